import CMCCore
import CMCStorage

/// Failed sign-ins per account and client address, in the User tables so that every process
/// serving sign-ins counts the same attempts.
///
/// An attempt is counted before its password is checked, in one compare-and-set on the row: of
/// many wrong passwords sent at once, only the free attempts reach the check and the rest are
/// refused, however they interleave. A right password then clears the count.
public struct SigninAttempts: Sendable {
    enum Verdict: Equatable {
        case allowed
        case locked(until: Timestamp)
    }

    let database: any Database
    let throttle: SigninThrottle

    public init(database: any Database, throttle: SigninThrottle = .init()) {
        self.database = database
        self.throttle = throttle
    }
    /// Rows untouched this long are dropped, so addresses that tried once do not pile up.
    static let retentionSeconds: Int64 = 86400

    /// Counts an attempt for `account` from `address`, unless that pair is locked.
    func take(account: String, address: String, now: Timestamp = .now()) async throws -> Verdict {
        // Contention on one row only retries; a handful of rounds settles any burst.
        for _ in 0..<16 {
            if let row = try await database.query(
                "SELECT failures, locked_until FROM signin_attempts WHERE account = $1 AND address = $2", .text(account), .text(address)
            ).first {
                let lockedUntil = Timestamp(microseconds: try row.int("locked_until"))
                let failures = try row.int("failures")
                // A lock over: the count goes on, so the next lock is longer.
                if lockedUntil > now, failures >= Int64(throttle.freeAttempts) { return .locked(until: lockedUntil) }
                let next = Int(failures) + 1
                let updated = try await database.query(
                    """
                    UPDATE signin_attempts SET failures = $3, locked_until = $4, updated_at = $5
                    WHERE account = $1 AND address = $2 AND failures = $6 RETURNING failures
                    """,
                    .text(account), .text(address), .integer(Int64(next)),
                    .integer(throttle.lockedUntil(afterFailures: next, now: now).microseconds), .integer(now.microseconds), .integer(failures)
                )
                if !updated.isEmpty { return .allowed }
            } else {
                let inserted = try await database.query(
                    """
                    INSERT INTO signin_attempts (account, address, failures, locked_until, updated_at) VALUES ($1, $2, 1, $3, $4)
                    ON CONFLICT (account, address) DO NOTHING RETURNING failures
                    """,
                    .text(account), .text(address), .integer(throttle.lockedUntil(afterFailures: 1, now: now).microseconds), .integer(now.microseconds)
                )
                if !inserted.isEmpty {
                    if Int.random(in: 0..<256) == 0 { try await prune(now: now) }
                    return .allowed
                }
            }
        }
        return .locked(until: now.adding(seconds: 1))
    }

    /// A right password: the pair starts afresh.
    func clear(account: String, address: String) async throws {
        try await database.query("DELETE FROM signin_attempts WHERE account = $1 AND address = $2", .text(account), .text(address))
    }

    func prune(now: Timestamp) async throws {
        try await database.query(
            "DELETE FROM signin_attempts WHERE updated_at < $1 AND locked_until < $2",
            .integer(now.adding(seconds: -Self.retentionSeconds).microseconds), .integer(now.microseconds)
        )
    }
}
