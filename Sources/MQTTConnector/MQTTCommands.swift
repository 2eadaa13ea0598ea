import CMCCore
import Devices
import Foundation
import Logging
import MQTT
import ServiceLifecycle

/// Sends commands to devices on `<root>/devices/{id}/commands/{commandId}` (QoS 1) and records
/// their answers from `.../{commandId}/ack`: an empty payload or `{"ok": true, "result": ...}`
/// acknowledges, `{"ok": false, "error": "..."}` reports a failure.
public final class MQTTCommands: CommandChannel, Service, Sendable {
    let client: MQTTClient
    let root: String
    let answers: any CommandAnswers
    let logger: Logger
    private let connection = ConnectionSignal()

    public init(endpoint: MQTTEndpoint, answers: any CommandAnswers, root: String = "cmc", logger: Logger) throws {
        client = try MQTTClient(clientID: "cmc-commands-\(UUID().uuidString.prefix(8))", cleanSession: true, endpoint: endpoint)
        self.root = root
        self.answers = answers
        self.logger = logger
    }

    public func run() async throws {
        defer { connection.fail() }
        try client.subscribe("\(root)/devices/+/commands/+/ack", qos: 1)
        try await client.connect()
        connection.succeed()
        // The platform's stop or a cancellation disconnects; answers already taken are recorded first.
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                while let batch = await client.receive(limit: 500) {
                    // Answers to different commands are independent: recorded together, their writes
                    // share commits.
                    await withTaskGroup(of: Void.self) { group in
                        for message in batch { group.addTask { await self.acknowledge(message) } }
                    }
                }
            } onCancel: {
                client.disconnect()
            }
        } onGracefulShutdown: {
            self.client.disconnect()
        }
    }

    public func send(_ command: Command) async throws {
        guard await connection.wait() else { throw BrokerError("not connected to the broker") }
        var writer = JSONWriter(capacity: 256)
        writer.object { w in
            w.key("id"); w.string(command.id)
            w.key("name"); w.string(command.name)
            w.key("params"); w.object(command.params)
            w.key("expiresAt"); w.timestamp(command.expiresAt)
        }
        try await client.publish("\(root)/devices/\(command.device)/commands/\(command.id)", payload: writer.bytes, qos: 1)
    }

    func acknowledge(_ message: MQTTMessage) async {
        let parts = message.topic.split(separator: "/", omittingEmptySubsequences: false)
        let tail = parts.suffix(5)  // devices, {id}, commands, {commandId}, ack
        guard tail.count == 5, tail[tail.startIndex] == "devices", tail[tail.startIndex + 2] == "commands" else { return }
        let device = String(tail[tail.startIndex + 1])
        let id = String(tail[tail.startIndex + 3])
        var status = Command.Status.acked
        var result: JSONValue?
        if !message.payload.isEmpty {
            guard let body = try? JSONValue(parsing: message.payload) else {
                logger.warning("command acknowledgement is not JSON", metadata: ["command": "\(id)", "device": "\(device)"])
                return
            }
            if case .object(let fields) = body {
                if case .bool(false) = fields["ok"] { status = .failed }
                result = fields["result"] ?? fields["error"]
            } else {
                result = body
            }
        }
        do {
            // Only the device the command was for can answer it.
            try await answers.answer(id: id, device: device, status: status, result: result)
        } catch {
            logger.error("recording a command acknowledgement failed", metadata: ["command": "\(id)", "error": "\(error)"])
        }
    }
}
