import NIOCore

/// Cuts the byte stream into MQTT packets, refusing any longer than `maximumSize` before
/// buffering it: the broker was told that size in CONNECT, so a longer one is a protocol error.
struct MQTTFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = MQTTPacket

    let maximumSize: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        var peek = buffer
        guard let first = peek.readInteger(as: UInt8.self), let length = try peek.readMQTTVariableInteger() else {
            return .needMoreData
        }
        guard length <= maximumSize else { throw MQTTProtocolError("packet of \(length) bytes, over \(maximumSize)") }
        guard let body = peek.readSlice(length: length) else { return .needMoreData }
        buffer.moveReaderIndex(to: peek.readerIndex)
        context.fireChannelRead(wrapInboundOut(try MQTTPacket(first: first, body: body)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
