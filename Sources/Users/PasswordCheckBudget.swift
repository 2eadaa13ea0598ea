import CMCCore
import Hummingbird
import NIOConcurrencyHelpers

/// How many password checks (bcrypt, a fifth of a second of CPU each) one client address may
/// cause, and how many may wait for the CPU at once whoever asks.
///
/// Each address has a bucket of `burst` checks that refills at `perMinute`; an empty bucket
/// answers 429 with the seconds until the next check. Beyond `queued` checks waiting or running
/// in the process the answer is 503: the CPU being protected is this process's own, so its
/// memory is the right place for the count (each process of a scaled-out platform keeps its own).
public final class PasswordCheckBudget: Sendable {
    public struct Limits: Sendable {
        public var burst: Int
        public var perMinute: Int
        public var queued: Int
        /// Addresses remembered at most; full buckets are forgotten first.
        public var addresses = 10_000

        public init(burst: Int = 20, perMinute: Int = 30, queued: Int = 64) {
            self.burst = burst
            self.perMinute = perMinute
            self.queued = queued
        }
    }

    struct Bucket {
        var tokens: Double
        var at: ContinuousClock.Instant

        /// The checks it holds at `now`, refilled at `rate` a second up to `burst`.
        func tokens(at now: ContinuousClock.Instant, rate: Double, burst: Int) -> Double {
            let elapsed = now - at
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return min(Double(burst), tokens + seconds * rate)
        }
    }

    let limits: Limits
    private let buckets = NIOLockedValueBox([String: Bucket]())
    private let running = NIOLockedValueBox(0)

    public init(limits: Limits = .init()) {
        self.limits = limits
    }

    /// Runs `check` if `address` has a check left and the queue has room.
    public func spend<T: Sendable>(address: String, _ check: () async throws -> T) async throws -> T {
        try take(address: address, now: .now)
        let admitted = running.withLockedValue { count in
            guard count < limits.queued else { return false }
            count += 1
            return true
        }
        guard admitted else {
            throw APIError(.serviceUnavailable, code: "busy", message: "too many password checks at once; try again in a second",
                           headers: [.retryAfter: "1"])
        }
        defer { running.withLockedValue { $0 -= 1 } }
        return try await check()
    }

    func take(address: String, now: ContinuousClock.Instant) throws {
        let rate = Double(limits.perMinute) / 60
        let wait: Double? = buckets.withLockedValue { buckets in
            var bucket = buckets[address] ?? Bucket(tokens: Double(limits.burst), at: now)
            bucket.tokens = bucket.tokens(at: now, rate: rate, burst: limits.burst)
            bucket.at = now
            guard bucket.tokens >= 1 else {
                buckets[address] = bucket
                return (1 - bucket.tokens) / rate
            }
            bucket.tokens -= 1
            if buckets[address] == nil, buckets.count >= limits.addresses { forget(&buckets, now: now, rate: rate) }
            buckets[address] = bucket
            return nil
        }
        if let wait {
            let seconds = max(1, Int(wait.rounded(.up)))
            throw APIError(.tooManyRequests, code: "too_many_password_checks",
                           message: "too many sign-ups or sign-ins from this address; try again in \(seconds) s", headers: [.retryAfter: "\(seconds)"])
        }
    }

    /// Drops the buckets that have refilled (they hold nothing a new bucket would not), and if
    /// none has, the oldest half.
    private func forget(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant, rate: Double) {
        let full = buckets.filter { $0.value.tokens(at: now, rate: rate, burst: limits.burst) >= Double(limits.burst) }.keys
        if full.isEmpty {
            for (key, _) in buckets.sorted(by: { $0.value.at < $1.value.at }).prefix(buckets.count / 2) { buckets[key] = nil }
        } else {
            for key in full { buckets[key] = nil }
        }
    }
}
