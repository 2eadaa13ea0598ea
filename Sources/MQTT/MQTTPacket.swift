import NIOCore

/// The MQTT 5 packets a subscriber that acknowledges by itself needs, and nothing more: it
/// connects, subscribes, takes PUBLISH, sends PUBACK, pings and says goodbye.
enum MQTTPacket {
    case connectAcknowledgement(sessionPresent: Bool, reason: UInt8)
    case subscribeAcknowledgement(packetID: UInt16, reasons: [UInt8])
    case publish(topic: String, packetID: UInt16?, qos: Int, retained: Bool, payload: [UInt8])
    case pingResponse
    case disconnect(reason: UInt8)
    /// Anything else the broker may send (PUBREL and the like are not expected at QoS 1).
    case other(type: UInt8)

    /// A whole packet as framed by `MQTTFrameDecoder`: the first byte and the rest after the length.
    init(first: UInt8, body: ByteBuffer) throws {
        var body = body
        switch first >> 4 {
        case 2:
            guard let flags = body.readInteger(as: UInt8.self), let reason = body.readInteger(as: UInt8.self) else {
                throw MQTTProtocolError("CONNACK too short")
            }
            self = .connectAcknowledgement(sessionPresent: flags & 1 == 1, reason: reason)
        case 3:
            let qos = Int((first >> 1) & 3)
            guard qos < 3 else { throw MQTTProtocolError("PUBLISH with QoS 3") }
            let topic = try body.readMQTTString()
            var packetID: UInt16?
            if qos > 0 {
                guard let id = body.readInteger(as: UInt16.self), id != 0 else { throw MQTTProtocolError("PUBLISH without a packet id") }
                packetID = id
            }
            try body.skipMQTTProperties()
            self = .publish(topic: topic, packetID: packetID, qos: qos, retained: first & 1 == 1,
                            payload: body.readBytes(length: body.readableBytes) ?? [])
        case 9:
            guard let id = body.readInteger(as: UInt16.self) else { throw MQTTProtocolError("SUBACK too short") }
            try body.skipMQTTProperties()
            self = .subscribeAcknowledgement(packetID: id, reasons: body.readBytes(length: body.readableBytes) ?? [])
        case 13:
            self = .pingResponse
        case 14:
            self = .disconnect(reason: body.readInteger(as: UInt8.self) ?? 0)
        default:
            self = .other(type: first >> 4)
        }
    }

    // MARK: What the subscriber sends

    struct Connect {
        var clientID: String
        var username: String?
        var password: String?
        var cleanStart: Bool
        var keepAlive: UInt16
        /// How long the broker keeps the session (and queues for it) while we are away.
        var sessionExpiry: UInt32
        /// How many QoS 1 messages the broker may have in flight to us, unacknowledged.
        var receiveMaximum: UInt16
        var maximumPacketSize: UInt32
    }

    static func write(_ connect: Connect, into buffer: inout ByteBuffer) {
        var body = ByteBuffer()
        body.writeMQTTString("MQTT")
        body.writeInteger(UInt8(5))
        var flags: UInt8 = connect.cleanStart ? 0x02 : 0
        if connect.username != nil { flags |= 0x80 }
        if connect.password != nil { flags |= 0x40 }
        body.writeInteger(flags)
        body.writeInteger(connect.keepAlive)
        var properties = ByteBuffer()
        properties.writeInteger(UInt8(0x11))
        properties.writeInteger(connect.sessionExpiry)
        properties.writeInteger(UInt8(0x21))
        properties.writeInteger(connect.receiveMaximum)
        properties.writeInteger(UInt8(0x27))
        properties.writeInteger(connect.maximumPacketSize)
        body.writeMQTTVariableInteger(properties.readableBytes)
        body.writeBuffer(&properties)
        body.writeMQTTString(connect.clientID)
        if let username = connect.username { body.writeMQTTString(username) }
        if let password = connect.password { body.writeMQTTString(password) }
        writeFrame(first: 0x10, body: &body, into: &buffer)
    }

    static func writeSubscribe(packetID: UInt16, topics: [String], qos: UInt8, into buffer: inout ByteBuffer) {
        var body = ByteBuffer()
        body.writeInteger(packetID)
        body.writeMQTTVariableInteger(0)
        for topic in topics {
            body.writeMQTTString(topic)
            body.writeInteger(qos)
        }
        writeFrame(first: 0x82, body: &body, into: &buffer)
    }

    static func writePublishAcknowledgement(packetID: UInt16, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0x40))
        buffer.writeInteger(UInt8(2))
        buffer.writeInteger(packetID)
    }

    static func writePing(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0xC0))
        buffer.writeInteger(UInt8(0))
    }

    /// A normal disconnection: the broker keeps the session for `sessionExpiry`.
    static func writeDisconnect(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0xE0))
        buffer.writeInteger(UInt8(0))
    }

    private static func writeFrame(first: UInt8, body: inout ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(first)
        buffer.writeMQTTVariableInteger(body.readableBytes)
        buffer.writeBuffer(&body)
    }
}

struct MQTTProtocolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ByteBuffer {
    mutating func writeMQTTString(_ string: String) {
        let bytes = Array(string.utf8)
        writeInteger(UInt16(truncatingIfNeeded: bytes.count))
        writeBytes(bytes.prefix(Int(UInt16.max)))
    }

    mutating func readMQTTString() throws -> String {
        guard let length = readInteger(as: UInt16.self), let bytes = readBytes(length: Int(length)) else {
            throw MQTTProtocolError("string runs past the packet")
        }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw MQTTProtocolError("string is not UTF-8") }
        return string
    }

    mutating func writeMQTTVariableInteger(_ value: Int) {
        var value = value
        repeat {
            var byte = UInt8(value & 0x7F)
            value >>= 7
            if value > 0 { byte |= 0x80 }
            writeInteger(byte)
        } while value > 0
    }

    /// The value, nil when the buffer ends first; throws when it is longer than four bytes.
    mutating func readMQTTVariableInteger() throws -> Int? {
        var value = 0
        for index in 0..<4 {
            guard let byte = readInteger(as: UInt8.self) else { return nil }
            value |= Int(byte & 0x7F) << (7 * index)
            if byte & 0x80 == 0 { return value }
        }
        throw MQTTProtocolError("variable byte integer longer than four bytes")
    }

    mutating func skipMQTTProperties() throws {
        guard let length = try readMQTTVariableInteger(), length <= readableBytes else {
            throw MQTTProtocolError("properties run past the packet")
        }
        moveReaderIndex(forwardBy: length)
    }
}
