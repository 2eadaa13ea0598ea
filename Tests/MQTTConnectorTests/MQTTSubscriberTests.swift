import NIOCore
import NIOEmbedded
import Testing

@testable import MQTT

/// The subscriber's connection against packets written by hand: what it sends, what it
/// acknowledges, and what it does with a broker that breaks the protocol.
@Suite("MQTT subscriber protocol")
struct MQTTSubscriberTests {
    /// A connection that has been through CONNECT/CONNACK and SUBSCRIBE/SUBACK.
    static func subscribed(budget: Int = 1 << 20) throws -> (EmbeddedChannel, MQTTInbox, sent: [UInt8]) {
        let inbox = MQTTInbox()
        let channel = EmbeddedChannel()
        let connection = inbox.begin { _ in }
        inbox.attach(channel, connection: connection)
        let connect = MQTTPacket.Connect(clientID: "ingest", username: "cmc", password: "secret", cleanStart: false, keepAlive: 30,
                                         sessionExpiry: 3600, receiveMaximum: 100, maximumPacketSize: 4096)
        try channel.pipeline.syncOperations.addHandlers(
            ByteToMessageHandler(MQTTFrameDecoder(maximumSize: 4096)),
            MQTTSessionHandler(connect: connect, topics: ["cmc/devices/+/data"], connection: connection, inbox: inbox,
                               ready: channel.eventLoop.makePromise(), byteBudget: budget)
        )
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1883)).wait()
        var sent = try drain(channel)
        try channel.writeInbound(ByteBuffer(bytes: [0x20, 0x03, 0x00, 0x00, 0x00]))
        sent += try drain(channel)
        try channel.writeInbound(ByteBuffer(bytes: [0x90, 0x04, 0x00, 0x01, 0x00, 0x01]))
        return (channel, inbox, sent)
    }

    static func drain(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readBytes(length: buffer.readableBytes) ?? [] }
        return bytes
    }

    static func publish(_ topic: String, id: UInt16, payload: String) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeMQTTString(topic)
        body.writeInteger(id)
        body.writeInteger(UInt8(0))  // no properties
        body.writeString(payload)
        var packet = ByteBuffer(bytes: [0x32])
        packet.writeMQTTVariableInteger(body.readableBytes)
        packet.writeBuffer(&body)
        return packet
    }

    @Test("CONNECT asks for MQTT 5, a kept session and a receive window; a message is acknowledged only when the consumer says so")
    func acknowledgesWhenTold() async throws {
        let (channel, inbox, sent) = try Self.subscribed()
        // CONNECT: protocol name, level 5, flags user + password + no clean start; then SUBSCRIBE at QoS 1.
        #expect(sent.first == 0x10)
        #expect(Array(sent[2..<10]) == [0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x05, 0xC0])
        #expect(sent.contains(0x82))
        try channel.writeInbound(Self.publish("cmc/devices/a/data", id: 7, payload: #"{"values":{"v":1}}"#))
        try channel.writeInbound(Self.publish("cmc/devices/b/data", id: 8, payload: #"{"values":{"v":2}}"#))
        let batch = try #require(await inbox.receive(limit: 10))
        #expect(batch.map(\.topic) == ["cmc/devices/a/data", "cmc/devices/b/data"])
        #expect(batch.map { String(decoding: $0.payload, as: UTF8.self) } == [#"{"values":{"v":1}}"#, #"{"values":{"v":2}}"#])
        #expect(try Self.drain(channel).isEmpty, "nothing is acknowledged before the consumer says so")
        inbox.acknowledge(batch)
        channel.embeddedEventLoop.run()
        #expect(try Self.drain(channel) == [0x40, 0x02, 0x00, 0x07, 0x40, 0x02, 0x00, 0x08])
    }

    @Test("messages of a lost connection are dropped from the queue and never acknowledged on the next")
    func oldConnection() async throws {
        let (channel, inbox, _) = try Self.subscribed()
        try channel.writeInbound(Self.publish("cmc/devices/a/data", id: 1, payload: "{}"))
        let batch = try #require(await inbox.receive(limit: 10))
        try channel.writeInbound(Self.publish("cmc/devices/a/data", id: 2, payload: "{}"))
        // The connection was lost and another begins.
        let next = EmbeddedChannel()
        inbox.attach(next, connection: inbox.begin { _ in })
        inbox.acknowledge(batch)
        #expect(try next.readOutbound(as: ByteBuffer.self) == nil)
        inbox.stop()
        #expect(await inbox.receive(limit: 10) == nil, "the queued message of the old connection is gone, and a stopped inbox gives nothing")
        _ = try? channel.finish()
    }

    @Test("a broker that breaks the protocol loses the connection; the process goes on",
          arguments: [
              [UInt8]([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),  // a length longer than four bytes
              [0x30, 0xFF, 0xFF, 0x7F],  // 2 MiB, over the 4 KiB this connection allows
              [0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00],  // QoS 1 with packet id 0
              [0x30, 0x03, 0x00, 0x05, 0x61],  // a topic longer than the packet
              [0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 0x00],  // a topic that is not UTF-8
          ])
    func protocolErrors(packet: [UInt8]) throws {
        let (channel, _, _) = try Self.subscribed()
        _ = try? channel.writeInbound(ByteBuffer(bytes: packet))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test("a connection whose unacknowledged messages exceed the byte budget stops reading until they are acknowledged")
    func byteBudget() async throws {
        let (channel, inbox, _) = try Self.subscribed(budget: 1000)
        let reads = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(reads, position: .first)
        channel.read()
        #expect(reads.count == 1)
        for id in 1...3 { try channel.writeInbound(Self.publish("cmc/devices/a/data", id: UInt16(id), payload: String(repeating: "x", count: 400))) }
        channel.read()
        #expect(reads.count == 1, "over the budget, no read reaches the socket")
        let batch = try #require(await inbox.receive(limit: 10))
        inbox.acknowledge(batch)
        channel.embeddedEventLoop.run()
        #expect(reads.count == 2, "acknowledged, the held read goes through")
    }
}

/// Counts the reads that reach the socket.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var count = 0
    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}
