import NIOConcurrencyHelpers

/// Lets callers wait until a service has connected (true) or given up (false).
final class ConnectionSignal: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Bool, Never>])
        case done(Bool)
    }
    private let state = NIOLockedValueBox(State.waiting([]))

    func wait() async -> Bool {
        await withCheckedContinuation { waiter in
            let result = state.withLockedValue { state -> Bool? in
                switch state {
                case .done(let value): return value
                case .waiting(let waiters):
                    state = .waiting(waiters + [waiter])
                    return nil
                }
            }
            if let result { waiter.resume(returning: result) }
        }
    }

    func succeed() { finish(true) }
    func fail() { finish(false) }

    /// The first outcome stands.
    private func finish(_ value: Bool) {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Bool, Never>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = .done(value)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }
}
