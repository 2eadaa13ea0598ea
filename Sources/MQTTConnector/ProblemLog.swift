import Logging
import Metrics
import NIOConcurrencyHelpers

/// Counts refused messages by reason and logs each reason at most once per burst, so a device
/// sending garbage in a loop neither floods the log nor goes unnoticed.
final class ProblemLog: Sendable {
    enum Reason: String, CaseIterable {
        case malformed, invalid
        case unknownDevice = "unknown_device"
        case badTopic = "bad_topic"
        case oversize
    }

    let logger: Logger
    let interval: Duration
    private let state = NIOLockedValueBox([Reason: (last: ContinuousClock.Instant, suppressed: Int)]())

    init(logger: Logger, interval: Duration = .seconds(10)) {
        self.logger = logger
        self.interval = interval
    }

    func record(_ reason: Reason, detail: String) {
        Counter(label: "cmc_mqtt_rejected_total", dimensions: [("reason", reason.rawValue)]).increment()
        let now = ContinuousClock.now
        let suppressed = state.withLockedValue { state -> Int? in
            if let entry = state[reason], now - entry.last < interval {
                state[reason] = (entry.last, entry.suppressed + 1)
                return nil
            }
            let suppressed = state[reason]?.suppressed ?? 0
            state[reason] = (now, 0)
            return suppressed
        }
        guard let suppressed else { return }
        logger.warning("MQTT message refused", metadata: [
            "reason": "\(reason.rawValue)", "detail": "\(detail)", "since_last_log": "\(suppressed)",
        ])
    }
}
