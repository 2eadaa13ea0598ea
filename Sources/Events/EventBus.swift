import Foundation
import Metrics
import NIOConcurrencyHelpers

/// Hands every event to the subscribers whose filter admits it, in process.
///
/// Each subscriber has a bounded buffer (events, and for HTTP clients bytes too). One that falls
/// too far behind (a stalled browser) is cut off — its stream ends and it may reconnect — so it
/// cannot slow the platform or the others, nor grow its memory.
public final class EventBus: Sendable {
    struct Subscriber {
        let filter: EventFilter
        let continuation: AsyncStream<Event>.Continuation
        /// For HTTP streams: the bytes waiting for the client, bounded.
        let backlog: ByteBudget?
    }

    private let subscribers = NIOLockedValueBox([UUID: Subscriber]())
    let bufferSize: Int

    public init(bufferSize: Int = 10_000) {
        self.bufferSize = bufferSize
    }

    public var subscriberCount: Int { subscribers.withLockedValue { $0.count } }

    public func publish(_ events: [Event]) {
        guard !events.isEmpty else { return }
        let current = subscribers.withLockedValue { Array($0) }
        var lagging: [UUID] = []
        for (id, subscriber) in current {
            for event in events where subscriber.filter.admits(event) {
                if let backlog = subscriber.backlog, !backlog.reserve(event.json.count) {
                    lagging.append(id)
                    break
                }
                if case .dropped = subscriber.continuation.yield(event) {
                    lagging.append(id)
                    break
                }
            }
        }
        for id in lagging {
            Counter(label: "cmc_events_subscribers_cut_off_total").increment()
            subscribers.withLockedValue { $0.removeValue(forKey: id) }?.continuation.finish()
        }
        Counter(label: "cmc_events_published_total").increment(by: Int64(events.count))
    }

    /// The events the filter admits, from now on, until the stream is dropped or cut off.
    public func subscribe(_ filter: EventFilter) -> AsyncStream<Event> {
        subscribe(filter, backlog: nil, onEnd: {})
    }

    /// An HTTP client's stream: cut off once more than `maximumBytes` wait for it. `onEnd` runs
    /// once, however the stream ends (finished, cut off, or dropped by its reader).
    public func subscribe(_ filter: EventFilter, maximumBytes: Int, onEnd: @escaping @Sendable () -> Void) -> EventSubscription {
        let backlog = ByteBudget(limit: maximumBytes)
        return EventSubscription(events: subscribe(filter, backlog: backlog, onEnd: onEnd), backlog: backlog)
    }

    private func subscribe(_ filter: EventFilter, backlog: ByteBudget?, onEnd: @escaping @Sendable () -> Void) -> AsyncStream<Event> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingOldest(bufferSize))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLockedValue { $0.removeValue(forKey: id) }
            onEnd()
        }
        subscribers.withLockedValue { $0[id] = Subscriber(filter: filter, continuation: continuation, backlog: backlog) }
        return stream
    }

    /// Ends every subscription, so long-lived HTTP responses finish and the server can stop.
    public func close() {
        let all = subscribers.withLockedValue { all in
            defer { all = [:] }
            return all.values
        }
        for subscriber in all { subscriber.continuation.finish() }
    }
}
