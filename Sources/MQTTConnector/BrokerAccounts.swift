import CMCCore
import Devices
import Foundation
import Logging
import MQTT
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Device accounts in Mosquitto's dynamic security plugin, managed over its control topic.
///
/// Each device gets a client `device:<id>`, bound to the client id of the same name, and a role of
/// its own that lets it publish only its readings and command acknowledgements, and receive only
/// its commands.
public final class BrokerAccounts: DeviceAccounts, Service, Sendable {
    static let controlTopic = "$CONTROL/dynamic-security/v1"
    let client: MQTTClient
    let root: String
    let timeout: Duration
    private let pending = NIOLockedValueBox([String: Pending]())
    private let connection = ConnectionSignal()

    public init(endpoint: MQTTEndpoint, root: String = "cmc", timeout: Duration = .seconds(5)) throws {
        client = try MQTTClient(clientID: "cmc-accounts-\(UUID().uuidString.prefix(8))", cleanSession: true, endpoint: endpoint)
        self.root = root
        self.timeout = timeout
    }

    /// Connects and answers the broker's responses until the task is cancelled.
    public func run() async throws {
        defer { connection.fail() }
        try client.subscribe(Self.controlTopic + "/response", qos: 1)
        try await client.connect()
        connection.succeed()
        // The platform's stop or a cancellation disconnects; the loop then ends.
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                while let batch = await client.receive(limit: 100) {
                    for message in batch { deliver(message) }
                }
            } onCancel: {
                client.disconnect()
            }
        } onGracefulShutdown: {
            self.client.disconnect()
        }
        let waiters = pending.withLockedValue { pending in
            defer { pending = [:] }
            return pending.values
        }
        for entry in waiters { entry.waiter.resume(throwing: BrokerError("broker connection closed")) }
    }

    /// Every device account's username and client id: `device:` and the device id. No account of
    /// the platform's own (the admin `cmc`) starts so, so no device id can name one of them, and
    /// a device account may connect only with its own client id, so no device can take over the
    /// session of a platform client (`cmc-ingest`) or of another device.
    public static func account(of deviceID: String) -> String { "device:\(deviceID)" }

    public func issue(deviceID: String) async throws -> DeviceCredentials {
        let password = Self.newPassword()
        let account = Self.account(of: deviceID)
        let role = account
        let base = "\(root)/devices/\(deviceID)"
        let acls: [[String: Any]] = [
            ["acltype": "publishClientSend", "topic": "\(base)/data", "allow": true],
            ["acltype": "publishClientSend", "topic": "\(base)/commands/+/ack", "allow": true],
            ["acltype": "subscribePattern", "topic": "\(base)/commands/#", "allow": true],
            ["acltype": "publishClientReceive", "topic": "\(base)/commands/#", "allow": true],
        ]
        let client: [String: Any] = ["command": "createClient", "username": account, "clientid": account, "password": password,
                                     "roles": [["rolename": role]]]
        // The role's ACLs follow from the id alone, so one left from an earlier device of the same id is the same.
        let responses = try await send([["command": "createRole", "rolename": role, "acls": acls], client])
        if let error = responses[0].error, !Self.exists(error) { throw BrokerError("createRole: \(error)") }
        if let error = responses[1].error {
            guard Self.exists(error) else { throw BrokerError("createClient: \(error)") }
            // The device's own account, there already: from a renewal, or left by an earlier device of
            // this id whose removal did not reach the broker. Replaced whole, never amended, so
            // nothing of the old account (client id, roles, sessions) survives.
            let replaced = try await send([["command": "deleteClient", "username": account], client])
            if let error = replaced[0].error, !Self.notFound(error) { throw BrokerError("deleteClient: \(error)") }
            if let error = replaced[1].error { throw BrokerError("createClient: \(error)") }
        }
        return DeviceCredentials(username: account, password: password, clientID: account)
    }

    public func remove(deviceID: String) async throws {
        let account = Self.account(of: deviceID)
        let responses = try await send([
            ["command": "deleteClient", "username": account],
            ["command": "deleteRole", "rolename": account],
        ])
        for response in responses {
            if let error = response.error, !Self.notFound(error) {
                throw BrokerError("\(response.command): \(error)")
            }
        }
    }

    static func exists(_ error: String) -> Bool { error.lowercased().contains("already exists") }
    static func notFound(_ error: String) -> Bool { error.lowercased().contains("not found") }

    struct Response: Sendable {
        let command: String
        let error: String?
    }

    struct Pending {
        let expected: Int
        var responses: [Int: Response]
        let waiter: CheckedContinuation<[Response], any Error>
    }

    /// Sends commands in one message, each tagged so its response finds its way back.
    func send(_ commands: [[String: Any]]) async throws -> [Response] {
        guard await connection.wait() else { throw BrokerError("not connected to the broker") }
        let tag = UUID().uuidString
        var tagged = commands
        for index in tagged.indices { tagged[index]["correlationData"] = "\(tag)/\(index)" }
        let payload = Array(try JSONSerialization.data(withJSONObject: ["commands": tagged]))
        let count = commands.count
        let timeout = self.timeout
        return try await withThrowingTaskGroup(of: [Response]?.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { waiter in
                    self.pending.withLockedValue { $0[tag] = Pending(expected: count, responses: [:], waiter: waiter) }
                    do {
                        try self.client.enqueue(Self.controlTopic, payload: payload, qos: 0)
                    } catch {
                        self.fail(tag, error)
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let responses = first else {
                fail(tag, BrokerError("no answer from the broker's dynamic security plugin within \(timeout)"))
                _ = try? await group.next()
                throw BrokerError("no answer from the broker's dynamic security plugin within \(timeout)")
            }
            return responses
        }
    }

    private func fail(_ tag: String, _ error: any Error) {
        pending.withLockedValue { $0.removeValue(forKey: tag) }?.waiter.resume(throwing: error)
    }

    private func deliver(_ message: MQTTMessage) {
        guard let body = try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any],
              let responses = body["responses"] as? [[String: Any]] else { return }
        for response in responses {
            guard let key = response["correlationData"] as? String, let slash = key.lastIndex(of: "/"),
                  let index = Int(key[key.index(after: slash)...]) else { continue }
            let tag = String(key[..<slash])
            let answer = Response(command: response["command"] as? String ?? "", error: response["error"] as? String)
            let done = pending.withLockedValue { pending -> Pending? in
                guard var entry = pending[tag] else { return nil }
                entry.responses[index] = answer
                if entry.responses.count == entry.expected { return pending.removeValue(forKey: tag).map { _ in entry } }
                pending[tag] = entry
                return nil
            }
            if let done { done.waiter.resume(returning: (0..<done.expected).map { done.responses[$0]! }) }
        }
    }

    static func newPassword() -> String {
        RandomToken.make(bytes: 24)
    }
}

public struct BrokerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
