import NIOConcurrencyHelpers

/// Lets the scheduler's loop sleep until its next run is due or until something changed
/// (a source added, a run finished), whichever comes first. One waiter at a time.
final class Wakeup: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Void, Never>?
        /// A signal (or cancellation) that arrived while nobody waited; the next wait returns at once.
        var pending = false
    }

    private let state = NIOLockedValueBox(State())

    func signal() {
        state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            if let continuation = state.continuation {
                state.continuation = nil
                return continuation
            }
            state.pending = true
            return nil
        }?.resume()
    }

    func wait(until deadline: ContinuousClock.Instant?) async {
        await withTaskGroup(of: Void.self) { group in
            if let deadline { group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) } }
            group.addTask { await self.signalled() }
            await group.next()
            group.cancelAll()
        }
    }

    private func signalled() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLockedValue { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    state.continuation = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
    }
}
