import CMCCore
import Feeds
import NIOConcurrencyHelpers

/// The GTFS timetables the scheduler has read, by source: realtime updates resolve their trips
/// against them and `GET /devices/{id}/departures` answers from them.
public final class Timetables: Sendable {
    struct Entry {
        var schedule: GTFSSchedule
        /// The feed's stop id of each bus-stop device, by the id the source registered it under.
        var stops: [String: String]
    }

    private let entries = NIOLockedValueBox([String: Entry]())

    public init() {}

    func set(source: String, prefix: String, schedule: GTFSSchedule) {
        let stops = Dictionary(schedule.stops.map { (DeviceID.make(prefix, $0.id), $0.id) }, uniquingKeysWith: { first, _ in first })
        entries.withLockedValue { $0[source] = Entry(schedule: schedule, stops: stops) }
    }

    func remove(source: String) {
        _ = entries.withLockedValue { $0.removeValue(forKey: source) }
    }

    func schedule(source: String) -> GTFSSchedule? {
        entries.withLockedValue { $0[source]?.schedule }
    }

    /// The next departures from a bus-stop device; nil when no GTFS source has that stop.
    public func departures(device: String, from: Timestamp, limit: Int, line: String? = nil) -> (stop: String, departures: [GTFSSchedule.Departure])? {
        guard let (schedule, stop) = stop(device: device) else { return nil }
        return (stop, schedule.departures(stop: stop, from: from, limit: limit, line: line))
    }

    /// The timetable and the feed's stop id behind a bus-stop device id, if any source has it.
    func stop(device: String) -> (schedule: GTFSSchedule, stop: String)? {
        entries.withLockedValue { entries in
            for entry in entries.values { if let stop = entry.stops[device] { return (entry.schedule, stop) } }
            return nil
        }
    }
}

/// Device ids for feed entries: `<prefix>:<id in the feed>`, with characters device ids do not allow replaced.
enum DeviceID {
    static func make(_ prefix: String, _ local: String) -> String {
        String((prefix + ":" + Self.local(local)).prefix(128))
    }

    static func local(_ id: String) -> String {
        String(String.UnicodeScalarView(id.unicodeScalars.map { c in
            switch c {
            case "0"..."9", "a"..."z", "A"..."Z", ":", ".", "_", "-": c
            default: "_"
            }
        }))
    }
}
