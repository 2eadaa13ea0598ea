import NIOCore

/// What the subscriber asks of its connection, from any thread, through `writeAndFlush`.
enum MQTTSessionRequest: Sendable {
    /// PUBACK these packet ids, and release what their messages held of the byte budget.
    case acknowledge(packetIDs: [UInt16], bytes: Int)
    /// A normal DISCONNECT, then close: the broker keeps the session.
    case disconnect
}

/// One connection of an `MQTTSubscriber`, on its event loop: CONNECT, SUBSCRIBE, then PUBLISH in
/// and PUBACK out when the subscriber says so.
///
/// Messages hold bytes until they are acknowledged; over the budget the handler stops reading
/// from the socket, so TCP makes the broker wait (it keeps the rest queued in the session).
final class MQTTSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = MQTTPacket
    typealias OutboundIn = MQTTSessionRequest
    typealias OutboundOut = ByteBuffer

    let connect: MQTTPacket.Connect
    let topics: [String]
    let connection: Int
    let inbox: MQTTInbox
    let ready: EventLoopPromise<Void>
    let byteBudget: Int

    private var held = 0
    private var paused = false
    private var pendingRead = false
    private var lastHeard = NIODeadline.now()
    private var answerTimeout: Scheduled<Void>?
    private var pinging: RepeatedTask?
    private var subscribed = false

    init(connect: MQTTPacket.Connect, topics: [String], connection: Int, inbox: MQTTInbox, ready: EventLoopPromise<Void>, byteBudget: Int) {
        self.connect = connect
        self.topics = topics
        self.connection = connection
        self.inbox = inbox
        self.ready = ready
        self.byteBudget = byteBudget
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 128)
        MQTTPacket.write(connect, into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        // A broker that accepts TCP but never answers must not hold the subscriber forever.
        answerTimeout = loop.scheduleTask(in: .seconds(10)) {
            let (handler, context) = bound.value
            guard !handler.subscribed else { return }
            handler.ready.fail(MQTTProtocolError("no CONNACK and SUBACK within 10 seconds"))
            context.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        answerTimeout?.cancel()
        pinging?.cancel()
        ready.fail(MQTTProtocolError("connection closed"))
        inbox.connectionLost(connection)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        ready.fail(error)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastHeard = .now()
        switch unwrapInboundIn(data) {
        case .connectAcknowledgement(_, let reason):
            guard reason < 0x80 else {
                ready.fail(MQTTError.refused("CONNACK", reason: reason))
                context.close(promise: nil)
                return
            }
            var buffer = context.channel.allocator.buffer(capacity: 64)
            MQTTPacket.writeSubscribe(packetID: 1, topics: topics, qos: 1, into: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        case .subscribeAcknowledgement(_, let reasons):
            if let refused = reasons.first(where: { $0 >= 0x80 }) {
                ready.fail(MQTTError.refused("SUBACK", reason: refused))
                context.close(promise: nil)
                return
            }
            subscribed = true
            startPinging(context: context)
            ready.succeed()
        case .publish(let topic, let packetID, let qos, let retained, let payload):
            let size = payload.count + topic.utf8.count + 16
            held += size
            inbox.deliver(MQTTMessage(topic: topic, payload: payload, qos: qos, retained: retained,
                                      acknowledgement: MQTTAcknowledgement(connection: connection, packetID: packetID, size: size)))
            if held > byteBudget { paused = true }
        case .pingResponse, .other:
            break
        case .disconnect:
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .acknowledge(let packetIDs, let bytes):
            var buffer = context.channel.allocator.buffer(capacity: packetIDs.count * 4)
            for id in packetIDs { MQTTPacket.writePublishAcknowledgement(packetID: id, into: &buffer) }
            if buffer.readableBytes > 0 {
                context.write(wrapOutboundOut(buffer), promise: promise)
            } else {
                promise?.succeed()
            }
            held = max(0, held - bytes)
            if paused, held <= byteBudget / 2 {
                paused = false
                lastHeard = .now()
                if pendingRead {
                    pendingRead = false
                    context.read()
                }
            }
        case .disconnect:
            var buffer = context.channel.allocator.buffer(capacity: 2)
            MQTTPacket.writeDisconnect(into: &buffer)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
            promise?.succeed()
        }
    }

    func read(context: ChannelHandlerContext) {
        if paused {
            pendingRead = true
        } else {
            context.read()
        }
    }

    /// PINGREQ every keep-alive period; a broker silent for two periods while we read is gone.
    private func startPinging(context: ChannelHandlerContext) {
        let period = TimeAmount.seconds(Int64(max(connect.keepAlive, 1)))
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        pinging = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            let (handler, context) = bound.value
            if !handler.paused, NIODeadline.now() - handler.lastHeard > period * 2 {
                context.close(promise: nil)
                return
            }
            var buffer = context.channel.allocator.buffer(capacity: 2)
            MQTTPacket.writePing(into: &buffer)
            context.writeAndFlush(handler.wrapOutboundOut(buffer), promise: nil)
        }
    }
}
