/// A message received from the broker.
public struct MQTTMessage: Sendable {
    public let topic: String
    public let payload: [UInt8]
    public let qos: Int
    public let retained: Bool
}

public enum MQTTError: Error, CustomStringConvertible {
    case library(String, code: Int32)
    case badURL(String)

    public var description: String {
        switch self {
        case .library(let call, let code): "\(call) failed: \(MQTTClient.describe(code))"
        case .badURL(let url): "MQTT URL must be mqtt://[user:password@]host[:port], not \(url)"
        }
    }
}

/// `mqtt://user:password@host:port`
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
