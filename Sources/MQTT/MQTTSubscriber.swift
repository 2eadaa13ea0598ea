import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A persistent MQTT 5 subscription whose messages the broker counts as delivered only when the
/// consumer acknowledges them, after it has made them durable.
///
/// libmosquitto answers PUBACK before its message callback runs, so a process that dies holding
/// messages loses them although the broker was told they arrived. This client sends PUBACK only
/// from `acknowledge`; a crash leaves the messages in the broker's session, which sends them
/// again on the next connection. It speaks the few packets that needs, on SwiftNIO.
///
/// Receive Maximum lets the broker keep many messages in flight, so it never waits for a batch
/// to commit; the bytes held unacknowledged are bounded by pausing reads from the socket.
public final class MQTTSubscriber: Sendable {
    public struct Configuration: Sendable {
        public var endpoint: MQTTEndpoint
        /// Fixed, so the broker keeps the session (and what it queues) while we are away.
        public var clientID: String
        public var topics: [String]
        public var keepAlive: UInt16 = 30
        /// Seconds the broker keeps the session after we disconnect.
        public var sessionExpiry: UInt32 = 7 * 24 * 3600
        public var receiveMaximum: UInt16 = 8192
        /// Mosquitto's `max_packet_size` in the platform's broker is 2 MiB.
        public var maximumPacketSize: Int = (2 << 20) + 4096
        /// Bytes of messages taken but not yet acknowledged before reading pauses.
        public var byteBudget: Int = 64 << 20

        public init(endpoint: MQTTEndpoint, clientID: String, topics: [String]) {
            self.endpoint = endpoint
            self.clientID = clientID
            self.topics = topics
        }
    }

    let configuration: Configuration
    let logger: Logger
    private let inbox = MQTTInbox()
    private let group: any EventLoopGroup
    private let closing = NIOLockedValueBox(false)

    public init(configuration: Configuration, logger: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.logger = logger
        self.group = group
    }

    /// Connects and subscribes, waiting (1 s, then up to 10 s apart) while the broker cannot be
    /// reached; throws at once when it refuses (a wrong password is not cured by waiting), or
    /// when the task is cancelled. Later losses of the connection reconnect by themselves, with
    /// backoff, until `close`.
    public func connect() async throws {
        try await keepTrying(refusalsAreFinal: true)
    }

    /// Waits for messages and returns those that have arrived, at most `limit`. Nil once
    /// `stopReceiving` was called.
    public func receive(limit: Int) async -> [MQTTMessage]? {
        await inbox.receive(limit: limit)
    }

    /// Tells the broker these messages are taken care of. Those from an earlier connection are
    /// skipped: the broker has sent them again.
    public func acknowledge(_ messages: [MQTTMessage]) {
        inbox.acknowledge(messages)
    }

    /// Takes no more messages; acknowledgements still go out until `close`.
    public func stopReceiving() {
        inbox.stop()
    }

    /// A normal DISCONNECT (the broker keeps the session and all that was not acknowledged).
    public func close() async {
        closing.withLockedValue { $0 = true }
        inbox.stop()
        guard let channel = inbox.detach() else { return }
        channel.writeAndFlush(MQTTSessionRequest.disconnect, promise: nil)
        // A broker that does not close its end within a few seconds is not waited for.
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(3)) { channel.close(promise: nil) }
        try? await channel.closeFuture.get()
        deadline.cancel()
    }

    private func open() async throws {
        let loop = group.next()
        let ready = loop.makePromise(of: Void.self)
        let connection = inbox.begin { [weak self] lost in self?.reconnect(after: lost) }
        let connect = MQTTPacket.Connect(
            clientID: configuration.clientID, username: configuration.endpoint.username, password: configuration.endpoint.password,
            cleanStart: false, keepAlive: configuration.keepAlive, sessionExpiry: configuration.sessionExpiry,
            receiveMaximum: configuration.receiveMaximum, maximumPacketSize: UInt32(configuration.maximumPacketSize)
        )
        let (topics, budget, maximumSize, inbox) = (configuration.topics, configuration.byteBudget, configuration.maximumPacketSize, inbox)
        do {
            _ = try await ClientBootstrap(group: loop)
                .connectTimeout(.seconds(10))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    inbox.attach(channel, connection: connection)
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(MQTTFrameDecoder(maximumSize: maximumSize)),
                            MQTTSessionHandler(connect: connect, topics: topics, connection: connection, inbox: inbox, ready: ready, byteBudget: budget)
                        )
                    }
                }
                .connect(host: configuration.endpoint.host, port: configuration.endpoint.port)
                .get()
        } catch {
            ready.fail(error)
        }
        try await ready.futureResult.get()
        guard inbox.establish(connection) else { throw MQTTProtocolError("connection closed just after subscribing") }
        // Closed while this connection was being made: it must not outlive the subscriber.
        if closing.withLockedValue({ $0 }), let channel = inbox.detach() {
            channel.close(promise: nil)
        }
    }

    /// Keeps trying, 1 s after a loss and up to 10 s apart, until connected or closed. A
    /// refusal after a loss (say the broker restarted with an old password file) is tried again
    /// too: the ingest runs on, and the log says why it waits.
    private func reconnect(after lost: Int) {
        guard !closing.withLockedValue({ $0 }) else { return }
        logger.warning("MQTT connection lost; reconnecting", metadata: ["client": "\(configuration.clientID)"])
        Task {
            try? await Task.sleep(for: .seconds(1))
            guard (try? await keepTrying(refusalsAreFinal: false)) != nil, !closing.withLockedValue({ $0 }) else { return }
            logger.info("MQTT connection restored", metadata: ["client": "\(configuration.clientID)"])
        }
    }

    /// Opens a connection, waiting 1 s and then up to 10 s between attempts; returns once
    /// connected or closed, throws when cancelled (or refused, when refusals are final).
    private func keepTrying(refusalsAreFinal: Bool) async throws {
        var delay = Duration.seconds(1)
        while !closing.withLockedValue({ $0 }) {
            do {
                return try await open()
            } catch let refusal as MQTTError where refusalsAreFinal {
                throw refusal
            } catch {
                logger.warning("MQTT broker not reachable; trying again", metadata: ["client": "\(configuration.clientID)", "error": "\(error)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }
}
