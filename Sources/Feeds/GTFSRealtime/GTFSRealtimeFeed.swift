import CMCCore
import Foundation
import SwiftProtobuf

/// A decoded GTFS-Realtime FeedMessage: trip delays per stop and vehicle positions.
public struct GTFSRealtimeFeed: Sendable {
    /// A delay a trip reports at one of its stops (given, or carried on from an earlier stop of the trip).
    public struct StopDelay: Sendable, Equatable {
        public var trip: String
        public var route: String?
        public var stopSequence: Int?
        public var stop: String?
        /// Seconds late (negative: early).
        public var delay: Int
    }

    public struct Vehicle: Sendable, Equatable {
        public var id: String
        public var label: String?
        public var trip: String?
        public var route: String?
        public var lat: Double
        public var lon: Double
        public var bearing: Double?
        public var speed: Double?
        public var occupancy: String?
        public var time: Timestamp?
    }

    /// A service alert: what it says and which routes and stops it concerns.
    public struct Alert: Sendable, Equatable {
        public var header: String?
        public var cause: String
        public var effect: String
        public var routes: [String]
        public var stops: [String]
        public var start: Timestamp?
        public var end: Timestamp?
    }

    public var time: Timestamp?
    public var alerts: [Alert] = []
    public var delays: [StopDelay] = []
    public var vehicles: [Vehicle] = []
    public var tripUpdates = 0
    public var skipped: [String: Int] = [:]

    /// Decodes the message; stop sequences are resolved to stops (and delays carried to the following
    /// stops, as the specification says) when the trip is in `schedule`.
    public init(data: Data, schedule: GTFSSchedule? = nil) throws {
        let message: TransitRealtime_FeedMessage
        do {
            message = try TransitRealtime_FeedMessage(serializedBytes: data)
        } catch {
            throw FeedError("not a GTFS-Realtime FeedMessage: it looks like \(FeedContent.describe(data)) (\(error))")
        }
        guard message.hasHeader, message.header.hasGtfsRealtimeVersion else {
            // Text often decodes as a protobuf of unknown fields: say what it looked like.
            throw FeedError("not a GTFS-Realtime FeedMessage: the header and its gtfs_realtime_version are missing; it looks like \(FeedContent.describe(data))")
        }
        if message.header.hasTimestamp, message.header.timestamp > 0 { time = Timestamp(microseconds: Int64(message.header.timestamp) * 1_000_000) }
        for entity in message.entity {
            if entity.hasTripUpdate { read(entity.tripUpdate, schedule: schedule) }
            if entity.hasVehicle { read(entity.vehicle, entity: entity.id, schedule: schedule) }
            if entity.hasAlert { read(entity.alert) }
        }
    }

    private mutating func read(_ update: TransitRealtime_TripUpdate, schedule: GTFSSchedule?) {
        tripUpdates += 1
        let tripID = update.trip.hasTripID ? update.trip.tripID : nil
        let scheduled = tripID.flatMap { schedule?.trip($0) }
        let route = update.trip.hasRouteID ? update.trip.routeID : scheduled?.route.id
        if update.trip.scheduleRelationship == .canceled {
            skipped["canceled trip", default: 0] += 1
            return
        }
        // Each update gives the delay from its stop on, until the next update.
        var given: [(sequence: Int?, stop: String?, delay: Int?)] = []
        for stopUpdate in update.stopTimeUpdate {
            if stopUpdate.scheduleRelationship == .skipped || stopUpdate.scheduleRelationship == .noData {
                given.append((stopUpdate.hasStopSequence ? Int(stopUpdate.stopSequence) : nil, stopUpdate.hasStopID ? stopUpdate.stopID : nil, nil))
                continue
            }
            let delay: Int
            if stopUpdate.hasArrival, stopUpdate.arrival.hasDelay {
                delay = Int(stopUpdate.arrival.delay)
            } else if stopUpdate.hasDeparture, stopUpdate.departure.hasDelay {
                delay = Int(stopUpdate.departure.delay)
            } else if update.hasDelay {
                delay = Int(update.delay)
            } else {
                delay = 0  // a scheduled stop with no figure is on time
            }
            given.append((stopUpdate.hasStopSequence ? Int(stopUpdate.stopSequence) : nil, stopUpdate.hasStopID ? stopUpdate.stopID : nil, delay))
        }
        guard let tripID else {
            skipped["trip update without trip_id", default: 0] += 1
            return
        }
        guard let calls = scheduled?.calls else {
            // Without the timetable only the stops the update names can be placed.
            for item in given {
                guard let delay = item.delay else { continue }
                if item.stop == nil { skipped["unknown trip", default: 0] += 1 }
                delays.append(StopDelay(trip: tripID, route: route, stopSequence: item.sequence, stop: item.stop, delay: delay))
            }
            return
        }
        var current: Int?
        var next = 0
        for call in calls {
            while next < given.count, matches(given[next], call) {
                current = given[next].delay
                next += 1
            }
            if next == 0 { continue }  // stops before the first update: no information
            guard let delay = current else { continue }
            delays.append(StopDelay(trip: tripID, route: route, stopSequence: Int(call.sequence), stop: call.stop, delay: delay))
        }
    }

    private func matches(_ update: (sequence: Int?, stop: String?, delay: Int?), _ call: (sequence: Int32, stop: String)) -> Bool {
        if let sequence = update.sequence { return sequence <= Int(call.sequence) }
        return update.stop == call.stop
    }

    private mutating func read(_ alert: TransitRealtime_Alert) {
        func seconds(_ value: UInt64, _ present: Bool) -> Timestamp? { present && value > 0 ? Timestamp(microseconds: Int64(value) * 1_000_000) : nil }
        let period = alert.activePeriod.first
        alerts.append(Alert(
            header: alert.headerText.translation.first?.text, cause: "\(alert.cause)", effect: "\(alert.effect)",
            routes: alert.informedEntity.filter(\.hasRouteID).map(\.routeID), stops: alert.informedEntity.filter(\.hasStopID).map(\.stopID),
            start: period.flatMap { seconds($0.start, $0.hasStart) }, end: period.flatMap { seconds($0.end, $0.hasEnd) }))
    }

    private mutating func read(_ position: TransitRealtime_VehiclePosition, entity: String, schedule: GTFSSchedule?) {
        guard position.hasPosition else {
            skipped["vehicle without position", default: 0] += 1
            return
        }
        let id = position.hasVehicle && position.vehicle.hasID && !position.vehicle.id.isEmpty ? position.vehicle.id : entity
        let trip = position.hasTrip && position.trip.hasTripID ? position.trip.tripID : nil
        let route = position.hasTrip && position.trip.hasRouteID ? position.trip.routeID : trip.flatMap { schedule?.trip($0)?.route.id }
        var occupancy: String?
        if position.hasOccupancyStatus { occupancy = "\(position.occupancyStatus)" }
        vehicles.append(Vehicle(
            id: id, label: position.hasVehicle && position.vehicle.hasLabel ? position.vehicle.label : nil, trip: trip, route: route,
            lat: Double(position.position.latitude), lon: Double(position.position.longitude),
            bearing: position.position.hasBearing ? Double(position.position.bearing) : nil,
            speed: position.position.hasSpeed ? Double(position.position.speed) : nil, occupancy: occupancy,
            time: position.hasTimestamp && position.timestamp > 0 ? Timestamp(microseconds: Int64(position.timestamp) * 1_000_000) : nil))
    }
}
