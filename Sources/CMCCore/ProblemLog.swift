import Logging
import Metrics
import NIOConcurrencyHelpers

/// Counts a connector's refused messages by reason and logs each reason at most once per burst,
/// so a device sending garbage in a loop neither floods the log nor goes unnoticed.
public final class ProblemLog: Sendable {
    public struct Reason: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { rawValue = value }

        public static let malformed: Reason = "malformed"
        public static let invalid: Reason = "invalid"
        public static let unknownDevice: Reason = "unknown_device"
        public static let wrongCredentials: Reason = "wrong_credentials"
        public static let badTopic: Reason = "bad_topic"
        public static let oversize: Reason = "oversize"
    }

    /// `mqtt`, `coap`: names the counter `cmc_<connector>_rejected_total`.
    public let connector: String
    let logger: Logger
    let interval: Duration
    private let state = NIOLockedValueBox([Reason: (last: ContinuousClock.Instant, suppressed: Int)]())

    public init(connector: String, logger: Logger, interval: Duration = .seconds(10)) {
        self.connector = connector
        self.logger = logger
        self.interval = interval
    }

    public func record(_ reason: Reason, detail: String) {
        Counter(label: "cmc_\(connector)_rejected_total", dimensions: [("reason", reason.rawValue)]).increment()
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
        logger.warning("\(connector.uppercased()) message refused", metadata: [
            "reason": "\(reason.rawValue)", "detail": "\(detail)", "since_last_log": "\(suppressed)",
        ])
    }
}
