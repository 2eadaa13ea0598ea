import CMCCore
import Foundation

/// A GTFS static feed as the platform uses it: stops with the lines serving them, and each stop's
/// timetable, so "next departures from here" is answered without the feed at hand.
public struct GTFSSchedule: Sendable {
    public struct Stop: Sendable, Equatable {
        public var id: String
        /// The code riders see on the sign (`stop_code`), where the feed has one.
        public var code: String?
        public var name: String?
        public var lat: Double
        public var lon: Double
    }

    public struct Route: Sendable, Equatable {
        public var id: String
        /// What riders call the line: the short name, else the long name, else the id.
        public var line: String
        public var longName: String?
        public var type: Int?
    }

    struct Trip: Sendable {
        var route: Int
        var service: Int
        var headsign: String?
        /// Seconds of the first departure of the trip, for trips repeated by frequencies.txt.
        var firstDeparture: Int32
        var frequencies: [(start: Int32, end: Int32, headway: Int32)]
        /// The trip's calls in stop_sequence order, for realtime updates that name a sequence only.
        var calls: [(sequence: Int32, stop: String)] = []
    }

    /// A call where riders may board: not the trip's last stop, not marked `pickup_type=1`.
    struct StopTime: Sendable {
        var trip: Int32
        /// Seconds after noon minus 12 h of the service day; may exceed 24 h.
        var departure: Int32
        /// Index in `headsigns` of the call's `stop_headsign`, or -1 for the trip's.
        var headsign: Int32 = -1
    }

    struct Service: Sendable {
        var weekdays: [Bool] = Array(repeating: false, count: 7)  // Monday first
        var start: Int64 = .max  // days since 1970
        var end: Int64 = .min
        var added: Set<Int64> = []
        var removed: Set<Int64> = []

        func runs(on day: Int64) -> Bool {
            if removed.contains(day) { return false }
            if added.contains(day) { return true }
            guard day >= start, day <= end else { return false }
            // 1970-01-01 was a Thursday: index 3 with Monday as 0.
            return weekdays[Int((day + 3) % 7 + 7) % 7]
        }
    }

    public let stops: [Stop]
    public let routes: [Route]
    public let timeZone: TimeZone
    let trips: [Trip]
    let services: [Service]
    let timetable: [String: [StopTime]]
    let headsigns: [String]
    let linesByStop: [String: [Int]]
    /// Whole days the latest time of day in the feed runs past its service day (times past 24:00).
    let overrun: Int64

    /// How far ahead departures are looked for: a week covers every weekly timetable.
    public static let horizonDays: Int64 = 7

    public struct Departure: Sendable, Equatable {
        public var line: String
        public var route: String
        public var headsign: String?
        public var trip: String
        public var time: Timestamp
    }

    /// The lines (route short names) on which riders may board or leave at a stop, timed calls or
    /// untimed ones alike, sorted. A line that only passes through (no pickup, no drop-off) is not
    /// listed.
    public func lines(at stop: String) -> [String] {
        (linesByStop[stop] ?? []).map { routes[$0].line }.sorted()
    }

    /// The next calls at a stop where a rider can board, at or after `from`, soonest first: as many
    /// as `limit`, looking at most `horizonDays` ahead. A trip's last stop and calls without pickup
    /// are not departures.
    public func departures(stop: String, from: Timestamp, limit: Int, line: String? = nil) -> [Departure] {
        guard let times = timetable[stop], limit > 0 else { return [] }
        let today = serviceDay(containing: from)
        let end = Timestamp(microseconds: from.microseconds + Self.horizonDays * 86_400_000_000)
        var found: [Departure] = []
        // Earlier service days may still be running (times past 24:00); later days start no
        // earlier than their own base, so the search stops once the limit is met before it.
        for day in (today - overrun)...(today + Self.horizonDays) {
            let base = noonMinus12h(day: day)
            if found.count >= limit, let last = found.last, last.time.secondsSince1970 <= base { break }
            for time in times {
                let trip = trips[Int(time.trip)]
                guard services[trip.service].runs(on: day) else { continue }
                let route = routes[trip.route]
                if let line, route.line != line { continue }
                for departure in departuresOf(trip: trip, at: time.departure) {
                    let at = Timestamp(microseconds: (base + Int64(departure)) * 1_000_000)
                    if at >= from, at < end {
                        found.append(Departure(line: route.line, route: route.id, headsign: time.headsign >= 0 ? headsigns[Int(time.headsign)] : trip.headsign,
                                               trip: tripIDs[Int(time.trip)], time: at))
                    }
                }
            }
            found.sort { ($0.time, $0.line, $0.trip) < ($1.time, $1.line, $1.trip) }
            if found.count > limit { found.removeLast(found.count - limit) }
        }
        return found
    }

    let tripIDs: [String]
    let tripIndex: [String: Int]

    /// The route and calls of a trip, for realtime updates.
    func trip(_ id: String) -> (route: Route, calls: [(sequence: Int32, stop: String)])? {
        guard let index = tripIndex[id] else { return nil }
        return (routes[trips[index].route], trips[index].calls)
    }

    public func route(_ id: String) -> Route? { routes.first { $0.id == id } }

    private func departuresOf(trip: Trip, at seconds: Int32) -> [Int32] {
        guard !trip.frequencies.isEmpty else { return [seconds] }
        let offset = seconds - trip.firstDeparture
        var times: [Int32] = []
        for window in trip.frequencies where window.headway > 0 {
            var start = window.start
            while start < window.end {
                times.append(start + offset)
                start += window.headway
            }
        }
        return times
    }

    /// Seconds since 1970 of "noon minus 12 h" in the feed's time zone: GTFS times count from there,
    /// which is midnight except on days the clocks change.
    func noonMinus12h(day: Int64) -> Int64 {
        let noonUTC = day * 86_400 + 43_200
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(noonUTC))))
        return noonUTC - offset - 43_200
    }

    func serviceDay(containing time: Timestamp) -> Int64 {
        let seconds = time.secondsSince1970
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        return (seconds + offset).floorDiv(86_400)
    }
}

extension GTFSSchedule {
    /// Reads the tables of a GTFS zip; missing required files or columns fail with their names.
    public init(archive: GTFSArchive) throws {
        let agency = try archive.table("agency.txt", required: false)
        var zone = TimeZone(identifier: "UTC")!
        if let agency, let row = agency.rows.first, let name = agency.value(row, "agency_timezone") {
            guard let tz = TimeZone(identifier: name) else { throw FeedError("agency.txt: unknown agency_timezone \(name)") }
            zone = tz
        }
        timeZone = zone

        let stopsTable = try archive.table("stops.txt")!
        try stopsTable.require("stop_id")
        var stops: [Stop] = []
        for (line, row) in stopsTable.rows.enumerated() {
            // Stations, entrances and nodes are not where a bus stops (location_type 1-4).
            if let type = stopsTable.value(row, "location_type"), type != "0" { continue }
            let id = try stopsTable.required(row, "stop_id", line: line)
            guard let lat = stopsTable.value(row, "stop_lat").flatMap(Double.init), let lon = stopsTable.value(row, "stop_lon").flatMap(Double.init),
                  (-90...90).contains(lat), (-180...180).contains(lon) else {
                throw FeedError("stops.txt line \(line + 2): stop \(id) needs stop_lat and stop_lon in degrees")
            }
            stops.append(Stop(id: id, code: stopsTable.value(row, "stop_code"), name: stopsTable.value(row, "stop_name"), lat: lat, lon: lon))
        }
        self.stops = stops

        let routesTable = try archive.table("routes.txt")!
        try routesTable.require("route_id")
        var routes: [Route] = []
        var routeIndex: [String: Int] = [:]
        for (line, row) in routesTable.rows.enumerated() {
            let id = try routesTable.required(row, "route_id", line: line)
            let long = routesTable.value(row, "route_long_name")
            routeIndex[id] = routes.count
            routes.append(Route(id: id, line: routesTable.value(row, "route_short_name") ?? long ?? id, longName: long,
                                type: routesTable.value(row, "route_type").flatMap { Int($0) }))
        }
        self.routes = routes

        var services: [Service] = []
        var serviceIndex: [String: Int] = [:]
        func service(_ id: String) -> Int {
            if let index = serviceIndex[id] { return index }
            serviceIndex[id] = services.count
            services.append(Service())
            return services.count - 1
        }
        let calendar = try archive.table("calendar.txt", required: false)
        let calendarDates = try archive.table("calendar_dates.txt", required: false)
        guard calendar != nil || calendarDates != nil else { throw FeedError("the feed has neither calendar.txt nor calendar_dates.txt") }
        if let calendar {
            let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
            try calendar.require(["service_id", "start_date", "end_date"] + days)
            for (line, row) in calendar.rows.enumerated() {
                let index = service(try calendar.required(row, "service_id", line: line))
                for (d, name) in days.enumerated() { services[index].weekdays[d] = calendar.value(row, name) == "1" }
                services[index].start = try GTFSSchedule.day(calendar.required(row, "start_date", line: line), file: "calendar.txt", line: line)
                services[index].end = try GTFSSchedule.day(calendar.required(row, "end_date", line: line), file: "calendar.txt", line: line)
            }
        }
        if let calendarDates {
            try calendarDates.require("service_id", "date", "exception_type")
            for (line, row) in calendarDates.rows.enumerated() {
                let index = service(try calendarDates.required(row, "service_id", line: line))
                let day = try GTFSSchedule.day(calendarDates.required(row, "date", line: line), file: "calendar_dates.txt", line: line)
                if calendarDates.value(row, "exception_type") == "2" { services[index].removed.insert(day) } else { services[index].added.insert(day) }
            }
        }

        let tripsTable = try archive.table("trips.txt")!
        try tripsTable.require("route_id", "service_id", "trip_id")
        var trips: [Trip] = []
        var tripIDs: [String] = []
        var tripIndex: [String: Int] = [:]
        for (line, row) in tripsTable.rows.enumerated() {
            let routeID = try tripsTable.required(row, "route_id", line: line)
            guard let route = routeIndex[routeID] else { throw FeedError("trips.txt line \(line + 2): unknown route_id \(routeID)") }
            let id = try tripsTable.required(row, "trip_id", line: line)
            tripIndex[id] = trips.count
            tripIDs.append(id)
            trips.append(Trip(route: route, service: service(try tripsTable.required(row, "service_id", line: line)),
                              headsign: tripsTable.value(row, "trip_headsign"), firstDeparture: .max, frequencies: []))
        }

        let stopTimes = try archive.table("stop_times.txt")!
        try stopTimes.require("trip_id", "stop_id")
        guard stopTimes.columns["departure_time"] != nil || stopTimes.columns["arrival_time"] != nil else {
            throw FeedError("stop_times.txt: missing required column departure_time")
        }
        var calls = [[Call]](repeating: [], count: trips.count)
        for (line, row) in stopTimes.rows.enumerated() {
            let tripID = try stopTimes.required(row, "trip_id", line: line)
            guard let trip = tripIndex[tripID] else { throw FeedError("stop_times.txt line \(line + 2): unknown trip_id \(tripID)") }
            let stop = try stopTimes.required(row, "stop_id", line: line)
            func time(_ column: String) throws -> Int32? {
                guard let text = stopTimes.value(row, column) else { return nil }
                guard let seconds = GTFSSchedule.seconds(text) else { throw FeedError("stop_times.txt line \(line + 2): \(column) \(text) is not HH:MM:SS") }
                return seconds
            }
            let arrival = try time("arrival_time"), departure = try time("departure_time")
            let sequence = stopTimes.value(row, "stop_sequence").flatMap { Int32($0) } ?? Int32(calls[trip].count)
            calls[trip].append(Call(sequence: sequence, stop: stop, time: departure ?? arrival, arrival: arrival ?? departure,
                                    pickup: stopTimes.value(row, "pickup_type") != "1", dropOff: stopTimes.value(row, "drop_off_type") != "1",
                                    headsign: stopTimes.value(row, "stop_headsign")))
        }
        var timetable: [String: [StopTime]] = [:]
        var lines: [String: Set<Int>] = [:]
        var headsigns: [String] = []
        var headsignIndex: [String: Int32] = [:]
        var latest: Int32 = 0
        var spans = [Int32](repeating: 0, count: trips.count)  // first to last call, for frequencies
        for trip in trips.indices {
            var tripCalls = calls[trip]
            tripCalls.sort { $0.sequence < $1.sequence }
            Call.interpolate(&tripCalls)
            trips[trip].calls = tripCalls.map { ($0.sequence, $0.stop) }
            for (index, call) in tripCalls.enumerated() {
                if call.pickup || call.dropOff { lines[call.stop, default: []].insert(trips[trip].route) }
                guard let seconds = call.time else { continue }
                trips[trip].firstDeparture = min(trips[trip].firstDeparture, seconds)
                latest = max(latest, seconds)
                spans[trip] = seconds - trips[trip].firstDeparture
                // A rider boards where the trip picks up and goes on: not at its last stop.
                guard call.pickup, index < tripCalls.count - 1 else { continue }
                var headsign: Int32 = -1
                if let text = call.headsign {
                    if let known = headsignIndex[text] { headsign = known } else {
                        headsign = Int32(headsigns.count)
                        headsignIndex[text] = headsign
                        headsigns.append(text)
                    }
                }
                timetable[call.stop, default: []].append(StopTime(trip: Int32(trip), departure: seconds, headsign: headsign))
            }
        }
        if let frequencies = try archive.table("frequencies.txt", required: false) {
            try frequencies.require("trip_id", "start_time", "end_time", "headway_secs")
            for (line, row) in frequencies.rows.enumerated() {
                let tripID = try frequencies.required(row, "trip_id", line: line)
                guard let trip = tripIndex[tripID] else { throw FeedError("frequencies.txt line \(line + 2): unknown trip_id \(tripID)") }
                guard let start = frequencies.value(row, "start_time").flatMap(GTFSSchedule.seconds),
                      let end = frequencies.value(row, "end_time").flatMap(GTFSSchedule.seconds),
                      let headway = frequencies.value(row, "headway_secs").flatMap({ Int32($0) }), headway > 0 else {
                    throw FeedError("frequencies.txt line \(line + 2): start_time, end_time and a positive headway_secs are required")
                }
                trips[trip].frequencies.append((start, end, headway))
            }
        }
        // Frequency-based trips run until the end of their last window.
        for index in trips.indices where !trips[index].frequencies.isEmpty {
            latest = max(latest, (trips[index].frequencies.map(\.end).max() ?? 0) + spans[index])
        }
        self.trips = trips
        self.tripIndex = tripIndex
        self.tripIDs = tripIDs
        self.services = services
        self.timetable = timetable
        self.headsigns = headsigns
        self.linesByStop = lines.mapValues { $0.sorted() }
        self.overrun = Int64(latest) / 86_400 + 1
    }

    /// One row of stop_times.txt while its trip is assembled.
    struct Call {
        var sequence: Int32
        var stop: String
        /// Departure, else arrival; nil for an untimed call until interpolated.
        var time: Int32?
        var arrival: Int32?
        var pickup: Bool
        var dropOff: Bool
        var headsign: String?

        /// Untimed calls between two timed ones get times evenly spaced between them, as GTFS asks
        /// consumers to do when `shape_dist_traveled` is not given. Calls before the first or after the
        /// last timed one stay untimed.
        static func interpolate(_ calls: inout [Call]) {
            var previous: Int?
            for index in calls.indices where calls[index].time != nil {
                if let previous, index - previous > 1, let start = calls[previous].time, let end = calls[index].arrival {
                    let gaps = Int32(index - previous)
                    for between in (previous + 1)..<index {
                        let time = start + (end - start) * Int32(between - previous) / gaps
                        calls[between].time = time
                        calls[between].arrival = time
                    }
                }
                previous = index
            }
        }
    }

    /// `H:MM:SS` or `HH:MM:SS`, hours possibly past 24.
    static func seconds(_ text: String) -> Int32? {
        let parts = text.split(separator: ":")
        guard parts.count == 3, let h = Int32(parts[0]), let m = Int32(parts[1]), let s = Int32(parts[2]),
              h >= 0, h < 48 * 7, (0..<60).contains(m), (0..<61).contains(s) else { return nil }
        return h * 3600 + m * 60 + s
    }

    /// A `YYYYMMDD` service date as days since 1970.
    static func day(_ text: String, file: String, line: Int) throws -> Int64 {
        guard text.count == 8, let value = Int64(text) else { throw FeedError("\(file) line \(line + 2): date \(text) is not YYYYMMDD") }
        let y = value / 10000, m = value / 100 % 100, d = value % 100
        guard (1...12).contains(m), (1...31).contains(d) else { throw FeedError("\(file) line \(line + 2): date \(text) is not YYYYMMDD") }
        return CivilDate.daysFromCivil(y, m, d)
    }
}
