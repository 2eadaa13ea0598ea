import CMCCore
import Foundation

/// The demo city: Cagliari at the scale of the CMC-IoT evaluation — 5 parking areas, 300 bus
/// stops on 12 lines, 100 traffic loops on the roads into the centre, 30 car-sharing areas and
/// 5 bike docks — laid out deterministically, so the files in `connectors/demo/` and the live
/// conditions the feed publisher computes always describe the same city.
public struct DemoCity: Sendable {
    public struct Place: Sendable, Equatable {
        public var id: String
        public var name: String
        public var lat: Double
        public var lon: Double
        /// Parking spaces, vehicles or docks; lanes for a traffic loop.
        public var capacity: Int
        public var road: String?
    }

    public struct Line: Sendable {
        public var name: String
        public var routeID: String
        /// Stop indices in direction 0.
        public var stops: [Int]
        /// Metres along the line of each stop, direction 0.
        public var offsets: [Double]
        var streets: [Street]
        public var length: Double
    }

    public struct Trip: Sendable {
        public var id: String
        public var line: Int
        public var direction: Int
        public var service: String
        /// Departure time of each call, seconds after the service day's midnight (past 24 h late at night).
        public var times: [Int]
        /// The vehicle running it.
        public var vehicle: String
    }

    public static let timeZone = TimeZone(identifier: "Europe/Rome")!
    /// Buses cover 5 m a second between stops and stand 20 s at each.
    static let speed = 5.0, dwell = 20

    public let stops: [Place]
    public let lines: [Line]
    public let trips: [Trip]
    public let parkings: [Place]
    public let loops: [Place]
    public let carStations: [Place]
    public let bikeDocks: [Place]

    public init() {
        // Stops: 300 spread over the lines in proportion to their length.
        let lengths = CagliariStreets.lines.map { $0.streets.reduce(0) { $0 + $1.length } }
        let total = lengths.reduce(0, +)
        var counts = lengths.map { max(2, Int(300 * $0 / total)) }
        var order = Array(lengths.indices).sorted { lengths[$0] * 300 / total - Double(counts[$0]) > lengths[$1] * 300 / total - Double(counts[$1]) }
        while counts.reduce(0, +) < 300 { counts[order.removeFirst()] += 1 }
        while counts.reduce(0, +) > 300, let index = counts.indices.max(by: { counts[$0] < counts[$1] }) { counts[index] -= 1 }

        var stops: [Place] = []
        var names: [String: Int] = [:]
        var lines: [Line] = []
        for (index, definition) in CagliariStreets.lines.enumerated() {
            let spacing = lengths[index] / Double(counts[index])
            var lineStops: [Int] = []
            var offsets: [Double] = []
            for k in 0..<counts[index] {
                let at = spacing * (Double(k) + 0.5)
                // Which street the stop is on, and how far along it: the civic number.
                let (street, left) = definition.streets.locate(at)
                let point = street.point(at: left)
                var name = "\(street.name) \(max(1, Int(left / 8)))"
                names[name, default: 0] += 1
                if names[name]! > 1 { name += " (\(definition.name))" }
                lineStops.append(stops.count)
                offsets.append(at)
                stops.append(Place(id: String(format: "CA%04d", stops.count + 1), name: name, lat: Self.round(point.lat), lon: Self.round(point.lon),
                                   capacity: 0, road: street.name))
            }
            lines.append(Line(name: definition.name, routeID: "CTM-\(definition.name)", stops: lineStops, offsets: offsets,
                              streets: definition.streets, length: lengths[index]))
        }

        // Trips: weekdays every 20 minutes from 05:40 to past midnight, weekends every 30 from 06:30.
        var trips: [Trip] = []
        for (lineIndex, line) in lines.enumerated() {
            for direction in 0...1 {
                let offsets = direction == 0 ? line.offsets : line.offsets.reversed().map { line.length - $0 }
                var running: [Int] = [0]
                for (a, b) in zip(offsets, offsets.dropFirst()) { running.append(running.last! + Int((b - a) / Self.speed) + Self.dwell) }
                for (service, first, last, headway) in [("WD", 5 * 3600 + 40 * 60, 24 * 3600 + 20 * 60, 20 * 60), ("WE", 6 * 3600 + 30 * 60, 24 * 3600 + 30 * 60, 30 * 60)] {
                    var start = first + lineIndex * 60 + direction * headway / 2
                    var ordinal = 0
                    while start <= last {
                        trips.append(Trip(id: "\(line.routeID)-\(direction)-\(service)-\(String(format: "%02d%02d", start / 3600, start / 60 % 60))",
                                          line: lineIndex, direction: direction, service: service, times: running.map { start + $0 },
                                          vehicle: "\(line.name)-\(direction)-\(ordinal % 8 + 1)"))
                        start += headway
                        ordinal += 1
                    }
                }
            }
        }

        let parkings = [
            Place(id: "P-MATTEOTTI", name: "Parcheggio Stazione - Piazza Matteotti", lat: 39.2160, lon: 9.1058, capacity: 320, road: "Piazza Matteotti"),
            Place(id: "P-ROMA", name: "Parcheggio Via Roma - Molo Ichnusa", lat: 39.2147, lon: 9.1118, capacity: 450, road: "Via Roma"),
            Place(id: "P-TRIESTE", name: "Parcheggio Viale Trieste", lat: 39.2206, lon: 9.1028, capacity: 260, road: "Viale Trieste"),
            Place(id: "P-REPUBBLICA", name: "Parcheggio Piazza Repubblica", lat: 39.2212, lon: 9.1248, capacity: 180, road: "Piazza Repubblica"),
            Place(id: "P-BUONCAMMINO", name: "Parcheggio Viale Buoncammino", lat: 39.2238, lon: 9.1106, capacity: 140, road: "Viale Buoncammino"),
        ]

        // Loops: 100 along the roads into the centre, in proportion to their length.
        let arterials = CagliariStreets.arterials
        let arterialLength = arterials.reduce(0) { $0 + $1.length }
        var loops: [Place] = []
        var remaining = 100
        for (index, street) in arterials.enumerated() {
            let count = index == arterials.count - 1 ? remaining : max(1, Int((100 * street.length / arterialLength).rounded()))
            remaining -= count
            for k in 0..<count {
                let at = street.length * (Double(k) + 0.5) / Double(count)
                let point = street.point(at: at)
                loops.append(Place(id: String(format: "CA-L%03d", loops.count + 1), name: "\(street.name) km \(String(format: "%.1f", at / 1000))",
                                   lat: Self.round(point.lat), lon: Self.round(point.lon), capacity: street.name.hasPrefix("Via ") ? 1 : 2, road: street.name))
            }
        }

        // Car sharing: 30 areas beside the bus streets, every so many metres of the network.
        let streets = CagliariStreets.lines.flatMap(\.streets)
        let network = streets.reduce(0) { $0 + $1.length }
        var random = SplitMix64(seed: 2019)
        var carStations: [Place] = []
        for k in 0..<30 {
            let (street, left) = streets.locate(network * (Double(k) + 0.3) / 30)
            let point = street.point(at: left)
            carStations.append(Place(id: String(format: "cs-%02d", k + 1), name: "Car sharing \(street.name) \(max(1, Int(left / 8)))",
                                     lat: Self.round(point.lat + 0.0004), lon: Self.round(point.lon + 0.0004), capacity: 2 + Int(random.next() % 5), road: street.name))
        }
        let bikeDocks = [
            Place(id: "bk-yenne", name: "Piazza Yenne", lat: 39.2178, lon: 9.1125, capacity: 16, road: nil),
            Place(id: "bk-garibaldi", name: "Piazza Garibaldi", lat: 39.2214, lon: 9.1198, capacity: 12, road: nil),
            Place(id: "bk-matteotti", name: "Stazione - Piazza Matteotti", lat: 39.2165, lon: 9.1072, capacity: 20, road: nil),
            Place(id: "bk-repubblica", name: "Piazza Repubblica", lat: 39.2203, lon: 9.1263, capacity: 12, road: nil),
            Place(id: "bk-poetto", name: "Poetto - Marina Piccola", lat: 39.2048, lon: 9.1596, capacity: 18, road: nil),
        ]

        self.stops = stops
        self.lines = lines
        self.trips = trips
        self.parkings = parkings
        self.loops = loops
        self.carStations = carStations
        self.bikeDocks = bikeDocks
    }

    static func round(_ degrees: Double) -> Double { (degrees * 1e6).rounded() / 1e6 }

    /// Where a bus is `metres` along its line in `direction`.
    func position(line: Int, direction: Int, metres: Double) -> (lat: Double, lon: Double) {
        let line = lines[line]
        let (street, offset) = line.streets.locate(min(line.length, direction == 0 ? metres : line.length - metres))
        return street.point(at: offset)
    }
}
