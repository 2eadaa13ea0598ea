/// A message received from the broker.
public struct MQTTMessage: Sendable {
    public let topic: String
    public let payload: [UInt8]
    public let qos: Int
    public let retained: Bool
    /// Set by `MQTTSubscriber`, which acknowledges a message only when told to.
    let acknowledgement: MQTTAcknowledgement?

    init(topic: String, payload: [UInt8], qos: Int, retained: Bool, acknowledgement: MQTTAcknowledgement? = nil) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retained = retained
        self.acknowledgement = acknowledgement
    }
}

/// Which connection a message came on, its packet id there (QoS 1) and what it holds of the
/// subscriber's byte budget until acknowledged.
struct MQTTAcknowledgement: Sendable {
    let connection: Int
    let packetID: UInt16?
    let size: Int
}

public enum MQTTError: Error, CustomStringConvertible {
    case library(String, code: Int32)
    case badURL(String)
    /// A CONNACK or SUBACK with a failure reason code (MQTT 5, section 3.2.2.2 and 3.9.3).
    case refused(String, reason: UInt8)

    public var description: String {
        switch self {
        case .library(let call, let code): "\(call) failed: \(MQTTClient.describe(code))"
        case .badURL(let url): "MQTT URL must be mqtt://[user:password@]host[:port], not \(url)"
        case .refused(let packet, let reason): "the broker refused in \(packet): \(Self.reason(reason))"
        }
    }
}

/// `mqtt://user:password@host:port`
extension MQTTError {
    static func reason(_ code: UInt8) -> String {
        switch code {
        case 0x86: "bad user name or password"
        case 0x87: "not authorized"
        case 0x85: "client identifier not valid"
        case 0x88: "server unavailable"
        case 0x89: "server busy"
        case 0x8F: "topic filter invalid"
        case 0x97: "quota exceeded"
        default: String(format: "reason 0x%02X", code)
        }
    }
}

public struct MQTTEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?

    public init(host: String = "127.0.0.1", port: Int = 1883, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    public init(url: String) throws {
        guard url.hasPrefix("mqtt://") else { throw MQTTError.badURL(url) }
        var rest = Substring(url.dropFirst("mqtt://".count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var credentials: Substring?
        if let at = rest.lastIndex(of: "@") {
            credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        if let credentials {
            let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            username = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            password = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : nil
        }
        let hostPort = rest.split(separator: ":", maxSplits: 1)
        guard let hostPart = hostPort.first, !hostPart.isEmpty else { throw MQTTError.badURL(url) }
        host = String(hostPart)
        if hostPort.count > 1 {
            guard let value = Int(hostPort[1]), (1...65535).contains(value) else { throw MQTTError.badURL(url) }
            port = value
        } else {
            port = 1883
        }
    }
}

import Foundation
