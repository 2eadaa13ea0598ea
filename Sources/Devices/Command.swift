import CMCCore

/// An order sent down to a device ("open", "alarm", ...) and where it has got to.
public struct Command: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// Accepted by the platform, not yet taken by the broker.
        case pending
        /// Taken by the broker for the device.
        case delivered
        /// The device reported it done.
        case acked
        /// The device reported it could not do it, or it could not be sent.
        case failed
        /// No answer before the deadline.
        case expired

        public var isFinal: Bool { self == .acked || self == .failed || self == .expired }
    }

    public let id: String
    public let device: String
    public let name: String
    public let params: [String: JSONValue]
    public var status: Status
    /// What the device answered with its acknowledgement.
    public var result: JSONValue?
    public let requestedBy: String
    public let createdAt: Timestamp
    public var updatedAt: Timestamp
    public let expiresAt: Timestamp

    /// The status as of `now`: unanswered commands past their deadline are expired.
    public func settled(now: Timestamp = .now()) -> Command {
        guard !status.isFinal, now >= expiresAt else { return self }
        var copy = self
        copy.status = .expired
        copy.updatedAt = expiresAt
        return copy
    }
}

/// Carries commands to devices; the MQTT connector is one.
public protocol CommandChannel: Sendable {
    /// Returns once the command is on its way (taken by the broker).
    func send(_ command: Command) async throws
}

/// Where a channel reports what a device answered: the Devices service, which keeps commands.
public protocol CommandAnswers: Sendable {
    /// Records the device's answer; nothing when the command is not that device's or is settled.
    func answer(id: String, device: String, status: Command.Status, result: JSONValue?) async throws
}

extension CommandRepository: CommandAnswers {
    public func answer(id: String, device: String, status: Command.Status, result: JSONValue?) async throws {
        _ = try await update(id: id, device: device, to: status, result: result)
    }
}

extension Command: JSONWritable {
    /// The same members and order as its `Encodable` form with sorted keys, written directly.
    public func write(to writer: inout JSONWriter) {
        writer.object { w in
            w.key("createdAt"); w.timestamp(createdAt)
            w.key("device"); w.string(device)
            w.key("expiresAt"); w.timestamp(expiresAt)
            w.key("id"); w.string(id)
            w.key("name"); w.string(name)
            w.key("params"); w.object(params)
            w.key("requestedBy"); w.string(requestedBy)
            if let result { w.key("result"); w.value(result) }
            w.key("status"); w.string(status.rawValue)
            w.key("updatedAt"); w.timestamp(updatedAt)
        }
    }
}
