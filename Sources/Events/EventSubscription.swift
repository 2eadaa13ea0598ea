import NIOConcurrencyHelpers

/// The events of one HTTP stream (`/events`, `/events/ws`), bounded in bytes as well as in
/// events: a client that stops reading is cut off once what waits for it passes its budget, so
/// twenty silent clients and a few large readings cannot grow the platform's memory.
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = Event
    let events: AsyncStream<Event>
    let backlog: ByteBudget

    public struct AsyncIterator: AsyncIteratorProtocol {
        var inner: AsyncStream<Event>.Iterator
        let backlog: ByteBudget

        public mutating func next() async -> Event? {
            guard let event = await inner.next() else { return nil }
            backlog.release(event.json.count)
            return event
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inner: events.makeAsyncIterator(), backlog: backlog) }
}

/// Bytes taken and not yet handed on, up to a limit.
public final class ByteBudget: Sendable {
    public let limit: Int
    private let used = NIOLockedValueBox(0)

    public init(limit: Int) { self.limit = limit }

    /// False, and nothing taken, when `bytes` more would pass the limit.
    public func reserve(_ bytes: Int) -> Bool {
        used.withLockedValue { used in
            guard used + bytes <= limit else { return false }
            used += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
        used.withLockedValue { $0 = max(0, $0 - bytes) }
    }

    public var reserved: Int { used.withLockedValue { $0 } }
}
