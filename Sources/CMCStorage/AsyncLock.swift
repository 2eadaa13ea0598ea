import DequeModule
import NIOConcurrencyHelpers

/// A lock that suspends instead of blocking, for holding a connection across `await`s.
public final class AsyncLock: Sendable {
    private struct State {
        var locked = false
        var waiters: Deque<CheckedContinuation<Void, Never>> = []
    }
    private let state = NIOLockedValueBox(State())

    public init() {}

    public func withLock<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        await lock()
        defer { unlock() }
        return try await body()
    }

    private func lock() async {
        let acquired = state.withLockedValue { state -> Bool in
            if state.locked { return false }
            state.locked = true
            return true
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            let acquiredNow = state.withLockedValue { state -> Bool in
                if state.locked {
                    state.waiters.append(continuation)
                    return false
                }
                state.locked = true
                return true
            }
            if acquiredNow { continuation.resume() }
        }
    }

    private func unlock() {
        let next = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            if let next = state.waiters.popFirst() { return next }  // ownership passes straight on
            state.locked = false
            return nil
        }
        next?.resume()
    }
}
