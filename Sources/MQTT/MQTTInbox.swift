import DequeModule
import NIOConcurrencyHelpers
import NIOCore

/// Messages taken from the current connection and not yet handed to the consumer, and the
/// consumer waiting for them. Shared by the connection's event loop and the consumer's task.
final class MQTTInbox: Sendable {
    private struct State {
        var connection = 0
        var channel: (any Channel)?
        var received: Deque<MQTTMessage> = []
        var receiver: CheckedContinuation<[MQTTMessage]?, Never>?
        var stopped = false
        var lost: (@Sendable (Int) -> Void)?
        /// Whether the current connection subscribed and was not lost since.
        var established = false
    }

    private let state = NIOLockedValueBox(State())

    /// The number of a new connection: what is still queued from the last one goes, the broker
    /// sends it again. `onLoss` runs when this connection closes, unless detached first.
    func begin(onLoss: @escaping @Sendable (Int) -> Void) -> Int {
        state.withLockedValue { state in
            state.connection += 1
            state.channel = nil
            state.established = false
            state.received.removeAll()
            state.lost = onLoss
            return state.connection
        }
    }

    /// Called on the channel's event loop before it connects, so no message can come before it.
    func attach(_ channel: any Channel, connection: Int) {
        state.withLockedValue { state in
            if state.connection == connection { state.channel = channel }
        }
    }

    /// Marks the connection as the one whose loss starts a reconnection; false when it was
    /// lost already (the caller tries again).
    func establish(_ connection: Int) -> Bool {
        state.withLockedValue { state in
            guard state.connection == connection, state.channel != nil else { return false }
            state.established = true
            return true
        }
    }

    func deliver(_ message: MQTTMessage) {
        let (waiter, batch) = state.withLockedValue { state -> (CheckedContinuation<[MQTTMessage]?, Never>?, [MQTTMessage]) in
            guard message.acknowledgement?.connection == state.connection, !state.stopped else { return (nil, []) }
            guard let waiter = state.receiver else {
                state.received.append(message)
                return (nil, [])
            }
            state.receiver = nil
            return (waiter, [message])
        }
        waiter?.resume(returning: batch)
    }

    func connectionLost(_ connection: Int) {
        let lost = state.withLockedValue { state -> (@Sendable (Int) -> Void)? in
            guard connection == state.connection else { return nil }
            let established = state.established
            state.channel = nil
            state.established = false
            state.received.removeAll()
            return established ? state.lost : nil
        }
        lost?(connection)
    }

    func receive(limit: Int) async -> [MQTTMessage]? {
        await withCheckedContinuation { (waiter: CheckedContinuation<[MQTTMessage]?, Never>) in
            let ready = state.withLockedValue { state -> [MQTTMessage]?? in
                if state.stopped { return .some(nil) }
                if !state.received.isEmpty {
                    let batch = Array(state.received.prefix(limit))
                    state.received.removeFirst(batch.count)
                    return .some(batch)
                }
                state.receiver = waiter
                return .none
            }
            if let ready { waiter.resume(returning: ready) }
        }
    }

    /// Sends PUBACK for those of `messages` that came on the current connection; the broker sends
    /// the others again on the next, so acknowledging them would be wrong.
    func acknowledge(_ messages: [MQTTMessage]) {
        let (channel, connection) = state.withLockedValue { ($0.channel, $0.connection) }
        guard let channel else { return }
        var ids: [UInt16] = []
        var bytes = 0
        for message in messages {
            guard let acknowledgement = message.acknowledgement, acknowledgement.connection == connection else { continue }
            if let id = acknowledgement.packetID { ids.append(id) }
            bytes += acknowledgement.size
        }
        guard bytes > 0 else { return }
        channel.writeAndFlush(MQTTSessionRequest.acknowledge(packetIDs: ids, bytes: bytes), promise: nil)
    }

    /// No more messages for the consumer: a waiting `receive` returns nil, and so does every later one.
    func stop() {
        let waiter = state.withLockedValue { state in
            state.stopped = true
            state.received.removeAll()
            defer { state.receiver = nil }
            return state.receiver
        }
        waiter?.resume(returning: nil)
    }

    /// The connection, forgotten so that its loss starts no reconnection.
    func detach() -> (any Channel)? {
        state.withLockedValue { state in
            state.lost = nil
            defer { state.channel = nil }
            return state.channel
        }
    }
}
