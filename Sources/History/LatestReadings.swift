import NIOConcurrencyHelpers

/// The latest reading of each device recently asked for, kept by the process that alone writes
/// the SQLite file, so that the most frequent read of the platform needs no trip to the
/// database's threads.
///
/// The table stays the truth. An entry is filled from it on a miss and dropped after every
/// store that may have changed it; this, rather than writing the stored readings in, keeps the
/// table's rule for two readings with the same time (the later commit wins) the only rule.
/// A read that raced a store does not fill: every store moves `generation`, and a fill keeps
/// its answer only if no store ended since the read began.
final class LatestReadings: Sendable {
    struct State {
        /// `nil` caches "no reading yet".
        var readings: [String: Reading?] = [:]
        var generation: UInt64 = 0
    }

    let capacity: Int
    private let state = NIOLockedValueBox(State())

    init(capacity: Int) { self.capacity = capacity }

    /// The cached answer for `device` (which may be "no reading yet"), or the generation to fill from.
    func lookup(_ device: String) -> (answer: Reading??, generation: UInt64) {
        state.withLockedValue { ($0.readings[device], $0.generation) }
    }

    /// The same for a page of devices, under one lock: what is kept for each, and the ones to read.
    func lookup(_ devices: [String]) -> (known: [String: Reading?], missing: [String], generation: UInt64) {
        state.withLockedValue { state in
            var known: [String: Reading?] = [:]
            var missing: [String] = []
            for device in devices {
                if let answer = state.readings[device] { known[device] = answer } else { missing.append(device) }
            }
            return (known, missing, state.generation)
        }
    }

    /// Whatever the database answered for `devices` since `generation`; kept only if no store ended meanwhile.
    func fill(_ answers: [String: Reading?], since generation: UInt64) {
        state.withLockedValue { state in
            guard capacity > 0, state.generation == generation else { return }
            // Simpler than evicting by use, and a full cache refills at the rate it is read.
            if state.readings.count + answers.count > capacity { state.readings.removeAll(keepingCapacity: true) }
            state.readings.merge(answers) { _, new in new }
        }
    }

    /// Called when a store of these devices' readings has ended, committed or not.
    func invalidate<Devices: Sequence<String>>(_ devices: Devices) {
        state.withLockedValue { state in
            state.generation &+= 1
            for device in devices { state.readings.removeValue(forKey: device) }
        }
    }
}
