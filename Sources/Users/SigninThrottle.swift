import CMCCore

/// After a few wrong passwords an account is locked for a while, doubling with each further failure.
public struct SigninThrottle: Sendable {
    public var freeAttempts: Int
    public var firstLockSeconds: Int64
    public var maximumLockSeconds: Int64

    public init(freeAttempts: Int = 5, firstLockSeconds: Int64 = 30, maximumLockSeconds: Int64 = 3600) {
        self.freeAttempts = freeAttempts
        self.firstLockSeconds = firstLockSeconds
        self.maximumLockSeconds = maximumLockSeconds
    }

    /// When the account unlocks after `failures` consecutive failures (`now` if it stays open).
    func lockedUntil(afterFailures failures: Int, now: Timestamp) -> Timestamp {
        guard failures >= freeAttempts else { return now }
        let doublings = min(failures - freeAttempts, 20)
        return now.adding(seconds: min(firstLockSeconds << Int64(doublings), maximumLockSeconds))
    }
}
