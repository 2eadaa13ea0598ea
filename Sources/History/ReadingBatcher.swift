import NIOConcurrencyHelpers

/// Stores readings from many concurrent writers in shared transactions: while one batch commits,
/// the next gathers, so a burst of small writes costs a few commits instead of one each.
/// Each writer returns only once its own readings are durable.
public final class ReadingBatcher: Sendable {
    struct Waiting {
        let readings: [Reading]
        let done: CheckedContinuation<Void, any Error>
    }

    struct State {
        var queue: [Waiting] = []
        var worker: CheckedContinuation<Void, Never>?
        var stopped = false
        var cancelled = false
    }

    let history: any HistoryClient
    let maximumBatch: Int
    private let state = NIOLockedValueBox(State())

    public init(history: any HistoryClient, maximumBatch: Int = 5000) {
        self.history = history
        self.maximumBatch = maximumBatch
    }

    /// Returns when the readings are durable; throws what storage threw.
    public func store(_ readings: [Reading]) async throws {
        guard !readings.isEmpty else { return }
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLockedValue { state -> (CheckedContinuation<Void, Never>?, Bool) in
                guard !state.stopped else { return (nil, false) }
                state.queue.append(Waiting(readings: readings, done: done))
                defer { state.worker = nil }
                return (state.worker, true)
            }
            guard outcome.1 else { return done.resume(throwing: StoppedError()) }
            outcome.0?.resume()
        }
    }

    /// Commits batches until the task is cancelled, then stores what is still queued; the owner
    /// cancels it once nothing more will be written.
    public func run() async {
        while !state.withLockedValue({ $0.cancelled }) {
            let batch = await next()
            guard !batch.isEmpty else { continue }
            await commit(batch)
        }
        // Whatever arrived before the stop is still stored.
        let left = state.withLockedValue { state in
            state.stopped = true
            defer { state.queue = [] }
            return state.queue
        }
        if !left.isEmpty { await commit(left) }
    }

    private func next() async -> [Waiting] {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (worker: CheckedContinuation<Void, Never>) in
                let ready = state.withLockedValue { state -> Bool in
                    if !state.queue.isEmpty || state.cancelled { return true }
                    state.worker = worker
                    return false
                }
                if ready { worker.resume() }
            }
            return state.withLockedValue { state in
                var taken: [Waiting] = []
                var count = 0
                while !state.queue.isEmpty, taken.isEmpty || count + state.queue[0].readings.count <= maximumBatch {
                    let item = state.queue.removeFirst()
                    count += item.readings.count
                    taken.append(item)
                }
                return taken
            }
        } onCancel: {
            let worker = state.withLockedValue { state in
                state.cancelled = true
                defer { state.worker = nil }
                return state.worker
            }
            worker?.resume()
        }
    }

    private func commit(_ batch: [Waiting]) async {
        do {
            _ = try await history.record(batch.flatMap(\.readings))
            for item in batch { item.done.resume() }
        } catch {
            for item in batch { item.done.resume(throwing: error) }
        }
    }

    struct StoppedError: Error, CustomStringConvertible {
        var description: String { "the reading batcher has stopped" }
    }
}
