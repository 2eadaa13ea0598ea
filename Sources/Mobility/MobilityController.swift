import Auth
import CMCCore
import CMCHTTP
import Devices
import Feeds
import History
import Hummingbird
import Persistence

/// `/mobility/around`: the driver's question of the CMC scenario in one call — parking areas near
/// a destination with their availability, and around each the traffic, buses, shared cars and
/// bikes, every one with its latest data.
public struct MobilityController: HTTPController {
    let devices: any DevicesClient
    let history: any HistoryClient
    let timetables: Timetables

    /// How far from a parking area each service is looked for, as in the CMC-IoT evaluation.
    static let services: [(key: String, category: String, radius: Double)] = [
        ("traffic", "traffic", 500), ("busStops", "bus_stop", 200), ("carsharing", "carsharing", 300), ("bikesharing", "bikesharing", 500),
    ]

    public init(devices: any DevicesClient, history: any HistoryClient, timetables: Timetables) {
        self.devices = devices
        self.history = history
        self.timetables = timetables
    }

    public static let endpoints: [Endpoint<Self>] = [
        Endpoint(.get, "/mobility/around", allow: Audience.everyone, Self.around),
    ]

    struct Nearby: JSONWritable {
        var device: Device
        var latest: Reading?
        var departures: [GTFSSchedule.Departure]?

        func write(to writer: inout JSONWriter) {
            writer.object { w in
                if let departures {
                    w.key("departures")
                    w.array(departures) { w, departure in
                        w.object { d in
                            d.member("headsign", departure.headsign)
                            d.key("line"); d.string(departure.line)
                            d.key("time"); d.timestamp(departure.time)
                            d.key("trip"); d.string(departure.trip)
                        }
                    }
                }
                w.key("device"); device.write(to: &w)
                w.key("latest")
                if let latest { latest.write(to: &w) } else { w.value(.null) }
            }
        }
    }

    struct Parking: JSONWritable {
        var parking: Nearby
        var around: [(key: String, radius: Double, items: [Nearby])]

        func write(to writer: inout JSONWriter) {
            writer.object { w in
                w.key("around")
                w.object { a in
                    for group in around {
                        a.key(named: group.key)
                        a.array(group.items) { w, item in item.write(to: &w) }
                    }
                }
                w.key("device"); parking.device.write(to: &w)
                w.key("latest")
                if let latest = parking.latest { latest.write(to: &w) } else { w.value(.null) }
            }
        }
    }

    struct Answer: JSONWritable {
        var point: GeoPoint
        var radius: Double
        var parkings: [Parking]

        func write(to writer: inout JSONWriter) {
            writer.object { w in
                w.key("parkings"); w.array(parkings) { w, parking in parking.write(to: &w) }
                w.key("point")
                w.object { p in
                    p.key("lat"); p.number(point.lat)
                    p.key("lon"); p.number(point.lon)
                }
                w.key("radius"); w.number(radius)
                w.key("radii")
                w.object { r in for service in MobilityController.services { r.key(named: service.key); r.number(service.radius) } }
            }
        }
    }

    @Sendable func around(_ request: Request, context: CMCRequestContext) async throws -> Response {
        let caller = context.principal
        let query = try QueryParameters(request, allowed: ["lat", "lon", "radius", "limit", "departures"])
        guard let lat = try query.double("lat") else { throw APIError.invalid("lat", "is required (degrees)") }
        guard let lon = try query.double("lon") else { throw APIError.invalid("lon", "is required (degrees)") }
        let point: GeoPoint
        do { point = try GeoPoint(lat: lat, lon: lon) } catch { throw APIError.invalid("lat", "lat must be in -90...90 and lon in -180...180") }
        let radius = try query.double("radius") ?? 500
        guard radius > 0, radius <= 5000 else { throw APIError.invalid("radius", "must be more than 0 and at most 5000 metres") }
        let limit = try query.int("limit", range: 1...50) ?? 10
        let departureCount = try query.int("departures", range: 0...20) ?? 3
        let visibleTo = DeviceAccess.visibility(caller)
        let now = Timestamp.now()

        let found = try await devices.devices(DeviceFilter(category: "parking", near: (point, radius), visibleTo: visibleTo, limit: limit))
        let parkingLatest = try await history.latest(devices: found.map(\.id))
        var parkings: [Parking] = []
        for parking in found {
            guard let location = parking.location else { continue }
            var around: [(key: String, radius: Double, items: [Nearby])] = []
            for service in Self.services {
                let nearby = try await devices.devices(DeviceFilter(category: service.category, near: (location, service.radius), visibleTo: visibleTo, limit: 50))
                // One query for the latest readings of the whole list.
                let latest = try await history.latest(devices: nearby.map(\.id))
                let items = nearby.map { device in
                    Nearby(device: device, latest: latest[device.id],
                           departures: service.category == "bus_stop" ? timetables.departures(device: device.id, from: now, limit: departureCount)?.departures ?? [] : nil)
                }
                around.append((service.key, service.radius, items))
            }
            parkings.append(Parking(parking: Nearby(device: parking, latest: parkingLatest[parking.id]), around: around))
        }
        return .json(Answer(point: point, radius: radius, parkings: parkings))
    }
}
