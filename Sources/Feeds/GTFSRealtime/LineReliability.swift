import CMCCore

/// Each line's share of arrivals within a tolerance of the timetable over a sliding window.
/// An arrival is one trip at one stop; later updates of the same arrival replace earlier ones, so
/// polling a feed often does not count an arrival twice.
public struct LineReliability: Sendable {
    public var tolerance: Int
    public var window: Int64

    private var arrivals: [String: (line: String, time: Timestamp, onTime: Bool)] = [:]

    /// - Parameters:
    ///   - tolerance: seconds late (or early) an arrival may be and still count as on time.
    ///   - window: seconds of arrivals considered.
    public init(tolerance: Int = 120, window: Int64 = 3600) {
        self.tolerance = tolerance
        self.window = window
    }

    public mutating func record(line: String, trip: String, stop: String, delay: Int, at time: Timestamp) {
        arrivals["\(trip)|\(stop)"] = (line, time, abs(delay) <= tolerance)
    }

    /// On-time share per line over the window ending at `now`, between 0 and 1.
    public mutating func shares(now: Timestamp) -> [String: Double] {
        let oldest = now.adding(seconds: -window)
        arrivals = arrivals.filter { $0.value.time >= oldest }
        var counts: [String: (onTime: Int, all: Int)] = [:]
        for arrival in arrivals.values {
            counts[arrival.line, default: (0, 0)].all += 1
            if arrival.onTime { counts[arrival.line]!.onTime += 1 }
        }
        return counts.mapValues { Double($0.onTime) / Double($0.all) }
    }
}
