import CMCCore
import Foundation

/// What is happening in the demo city at a moment: parking occupancy, traffic, shared vehicles,
/// bus delays and positions. Follows the time of day (rush hours at 8 and 18) with a minute's
/// worth of noise, the same for everyone who asks about the same minute.
public struct DemoConditions: Sendable {
    public let city: DemoCity

    public init(city: DemoCity) { self.city = city }

    /// Conditions change once a minute; every reading carries the start of its minute.
    public static func minute(_ time: Timestamp) -> Timestamp {
        Timestamp(microseconds: time.microseconds.floorDiv(60_000_000) * 60_000_000)
    }

    static func bucket(_ time: Timestamp) -> Int64 { time.microseconds.floorDiv(60_000_000) }

    /// Local hour of day, fractional.
    static func hour(_ time: Timestamp) -> Double {
        let seconds = time.secondsSince1970
        let offset = Int64(DemoCity.timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        return Double((seconds + offset).floorMod(86_400)) / 3600
    }

    /// How busy the city is, 0 at night to about 1 at the rush hours.
    static func busy(_ time: Timestamp) -> Double {
        let h = hour(time)
        let value = 0.12 + 0.85 * exp(-pow(h - 8.2, 2) / 2.5) + 0.75 * exp(-pow(h - 18, 2) / 4) + 0.35 * exp(-pow(h - 13, 2) / 6)
        return min(1, value)
    }

    public func parking(_ place: DemoCity.Place, at time: Timestamp) -> (free: Int, occupied: Int) {
        var random = SplitMix64(place.id, Self.bucket(time))
        let share = min(0.99, max(0.02, 0.15 + 0.8 * Self.busy(time) + (random.nextUnit() - 0.5) * 0.1))
        let occupied = Int((Double(place.capacity) * share).rounded())
        return (place.capacity - occupied, occupied)
    }

    public struct LaneMeasurement: Sendable {
        public var flow: Int
        public var speed: Double
        public var vehicles: Int
        /// The loop sent a placeholder (about one lane in a hundred).
        public var dataError: Bool
    }

    public func traffic(_ loop: DemoCity.Place, at time: Timestamp) -> [LaneMeasurement] {
        var random = SplitMix64(loop.id, Self.bucket(time))
        let busy = Self.busy(time)
        let fast = loop.road.map { $0.hasPrefix("Asse") || $0.hasPrefix("SS") || $0.contains("Poetto") } ?? false
        let limit = fast ? 70.0 : 50.0
        return (0..<max(1, loop.capacity)).map { _ in
            let flow = Int(((fast ? 1400 : 800) * busy * (0.85 + random.nextUnit() * 0.3)).rounded())
            let speed = ((limit * (1 - 0.55 * busy * busy) + (random.nextUnit() - 0.5) * 6) * 10).rounded() / 10
            return LaneMeasurement(flow: flow, speed: max(5, speed), vehicles: max(1, flow / 60), dataError: random.nextUnit() < 0.01)
        }
    }

    public func bikes(_ dock: DemoCity.Place, at time: Timestamp) -> (available: Int, disabled: Int, docks: Int) {
        var random = SplitMix64(dock.id, Self.bucket(time) / 5)
        let disabled = random.nextUnit() < 0.3 ? 1 : 0
        let available = Int(random.next() % UInt64(dock.capacity - disabled + 1))
        return (available, disabled, dock.capacity - disabled - available)
    }

    public static let carModels: [(id: String, make: String, model: String, propulsion: String, range: Int)] = [
        ("fiat-500e", "Fiat", "500e", "electric", 250_000), ("renault-zoe", "Renault", "Zoe", "electric", 300_000),
        ("fiat-panda", "Fiat", "Panda Hybrid", "combustion", 600_000), ("toyota-yaris", "Toyota", "Yaris Hybrid", "combustion", 700_000),
    ]

    /// The cars parked at a car-sharing area now: (vehicle id, model index, reserved).
    public func cars(_ station: DemoCity.Place, at time: Timestamp) -> [(id: String, model: Int, reserved: Bool)] {
        var random = SplitMix64(station.id, Self.bucket(time) / 5)
        let parked = Int(random.next() % UInt64(station.capacity + 1))
        return (0..<parked).map { slot in
            (id: "\(station.id)-car\(slot + 1)", model: Int(random.next() % UInt64(Self.carModels.count)), reserved: random.nextUnit() < 0.15)
        }
    }

    /// A bus trip running now: how late it is, its last and next calls, and where it is.
    public struct RunningTrip: Sendable {
        public var trip: DemoCity.Trip
        /// `YYYYMMDD` of its service day.
        public var serviceDate: String
        public var delay: Int
        /// Index of the next call in the trip's order.
        public var next: Int
        public var lat: Double
        public var lon: Double
        public var bearing: Double
    }

    public func runningTrips(at time: Timestamp) -> [RunningTrip] {
        let seconds = time.secondsSince1970
        let offset = Int64(DemoCity.timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        let local = seconds + offset
        let today = local.floorDiv(86_400)
        var running: [RunningTrip] = []
        for day in [today - 1, today] {
            let services = Self.services(day: day)
            let now = Int(local - day * 86_400)
            for trip in city.trips where services.contains(trip.service) {
                guard now >= trip.times.first! - 600, now <= trip.times.last! + 900 else { continue }
                let delay = self.delay(trip: trip.id, day: day, at: time)
                let scheduled = now - delay
                guard scheduled >= trip.times.first!, scheduled < trip.times.last! else { continue }
                let next = trip.times.firstIndex { $0 > scheduled }!
                let line = city.lines[trip.line]
                let offsets = trip.direction == 0 ? line.offsets : line.offsets.reversed().map { line.length - $0 }
                let from = offsets[next - 1], to = offsets[next]
                let leg = Double(trip.times[next] - trip.times[next - 1])
                let moving = max(0, Double(scheduled - trip.times[next - 1]) - Double(DemoCity.dwell))
                let metres = from + (to - from) * min(1, moving / max(1, leg - Double(DemoCity.dwell)))
                let here = city.position(line: trip.line, direction: trip.direction, metres: metres)
                let ahead = city.position(line: trip.line, direction: trip.direction, metres: metres + 20)
                let bearing = (atan2((ahead.lon - here.lon) * cos(here.lat * .pi / 180), ahead.lat - here.lat) * 180 / .pi + 360)
                    .truncatingRemainder(dividingBy: 360)
                running.append(RunningTrip(trip: trip, serviceDate: Self.date(day), delay: delay, next: next,
                                           lat: DemoCity.round(here.lat), lon: DemoCity.round(here.lon), bearing: bearing.rounded()))
            }
        }
        return running
    }

    /// Seconds late: each trip has a character (some run early, most a little late, a few badly),
    /// worse at rush hour, drifting minute by minute.
    func delay(trip: String, day: Int64, at time: Timestamp) -> Int {
        var character = SplitMix64(trip, day)
        var drift = SplitMix64(trip, Self.bucket(time))
        let base = character.nextUnit() < 0.15 ? 240 + character.nextUnit() * 360 : -40 + character.nextUnit() * 150
        return Int((base * (0.5 + Self.busy(time)) + (drift.nextUnit() - 0.5) * 30).rounded())
    }

    /// Services running on a local day: weekdays, weekends and holidays (the 8 December 2026 runs the weekend timetable).
    static func services(day: Int64) -> Set<String> {
        if date(day) == "20261208" { return ["WE"] }
        let weekday = (day + 3).floorMod(7)  // 0 = Monday
        return weekday < 5 ? ["WD"] : ["WE"]
    }

    static func date(_ day: Int64) -> String {
        let (y, m, d) = CivilDate.civilFromDays(day)
        return String(format: "%04d%02d%02d", Int(y), Int(m), Int(d))
    }
}

extension Int64 {
    func floorMod(_ divisor: Int64) -> Int64 { ((self % divisor) + divisor) % divisor }
}
