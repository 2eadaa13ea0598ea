import CMCCore
import CMCTesting
import Foundation
import MQTT
import Platform
import Testing

/// Commands to a device that connects with its own broker account, one connection for its commands
/// and its answers, as the account's client id allows one at a time.
@Suite("Device commands", .enabled(if: MQTTTestBroker.url != nil))
struct CommandTests {
    static let binary = TestBackend.migrationsDirectory.deletingLastPathComponent().appendingPathComponent(".build/debug/cmc")

    /// The device: its account, bound to its client id, subscribed to its commands.
    static func connect(as device: String, password: String) async throws -> MQTTClient {
        var endpoint = try MQTTEndpoint(url: MQTTTestBroker.url!)
        endpoint.username = "device:\(device)"
        endpoint.password = password
        let client = try MQTTClient(clientID: "device:\(device)", cleanSession: true, endpoint: endpoint)
        try client.subscribe("cmc/devices/\(device)/commands/+", qos: 1)
        try await client.connect()
        return client
    }

    @Test("a command reaches the device, its acknowledgement or silence settles it", arguments: TestBackend.all)
    func commands(backend: TestBackend) async throws {
        try await TestPlatform.run(backend, configuration: MQTTIngestTests.configuration()) { t in
            let id = "door-\(UUID().uuidString.prefix(8).lowercased())"
            let created = try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": id, "category": "intercom", "connector": "mqtt"], expect: .created)
            let password = try #require((created["credentials"] as? [String: Any])?["password"] as? String)
            let device = try await Self.connect(as: id, password: password)
            defer { device.disconnect() }
            try await Task.sleep(for: .milliseconds(500))  // let the device's subscription land

            let sent = try await t.client.json(.post, "/devices/\(id)/commands", token: t.adminToken,
                                               body: ["name": "open", "params": ["seconds": 3], "timeoutMs": 10_000], expect: .accepted)
            #expect(sent["status"] as? String == "delivered")
            let commandID = try #require(sent["id"] as? String)
            let received = try #require(await device.receive(limit: 1)?.first)
            #expect(received.topic == "cmc/devices/\(id)/commands/\(commandID)")
            let payload = String(decoding: received.payload, as: UTF8.self)
            #expect(payload.contains(#""name":"open""#))
            #expect(payload.contains(#""seconds":3"#))
            try await device.publish("cmc/devices/\(id)/commands/\(commandID)/ack", payload: Array(#"{"ok":true,"result":{"opened":true}}"#.utf8), qos: 1)
            let acked = try await t.client.json(.get, "/devices/\(id)/commands/\(commandID)?wait=true", token: t.adminToken)
            #expect(acked["status"] as? String == "acked")
            #expect((acked["result"] as? [String: Any])?["opened"] as? Bool == true)

            // Silence until the deadline: expired, and `wait` returns at the deadline.
            let silent = try await t.client.json(.post, "/devices/\(id)/commands", token: t.adminToken,
                                                 body: ["name": "alarm", "timeoutMs": 300], expect: .accepted)
            let started = ContinuousClock.now
            let expired = try await t.client.json(.get, "/devices/\(id)/commands/\(silent["id"] as! String)?wait=true", token: t.adminToken)
            #expect(expired["status"] as? String == "expired")
            #expect(ContinuousClock.now - started < .seconds(5))
            let expiredAtOnce = try await t.client.json(.post, "/devices/\(id)/commands?wait=true", token: t.adminToken,
                                                        body: ["name": "alarm", "timeoutMs": 300], expect: .ok)
            #expect(expiredAtOnce["status"] as? String == "expired")

            // Not the owner: the device is invisible. Not an MQTT device: no channel.
            let citizen = try await t.user("carla")
            #expect(try await t.client.send(.post, "/devices/\(id)/commands", token: citizen.token, body: ["name": "open"]).status == .notFound)
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "http-\(id)", "category": "intercom", "connector": "http"], expect: .created)
            // The request is well formed; the device cannot take it: a conflict with its state.
            #expect(try await t.client.send(.post, "/devices/http-\(id)/commands", token: t.adminToken, body: ["name": "open"]).status == .conflict)
            #expect(try await t.client.send(.post, "/devices/http-\(id)/credentials", token: t.adminToken).status == .conflict)
            #expect(try await t.client.send(.post, "/devices/\(id)/commands", token: t.adminToken, body: ["name": "open", "timeoutMs": 5]).status == .badRequest)
            // Commands wait in the broker for offline devices: their size is bounded.
            let oversize = try await t.client.send(.post, "/devices/\(id)/commands", token: t.adminToken,
                                                   body: ["name": "open", "params": ["blob": String(repeating: "x", count: 70_000)]])
            #expect(oversize.status == .contentTooLarge)
        }
    }
}

@Suite("Device simulator", .enabled(if: MQTTTestBroker.url != nil))
struct SimulatorTests {
    @Test("`cmc simulate device` publishes readings and acknowledges commands",
          .enabled(if: FileManager.default.isExecutableFile(atPath: CommandTests.binary.path)))
    func simulator() async throws {
        try await TestPlatform.run(.sqlite, configuration: MQTTIngestTests.configuration()) { t in
            let id = "sim-\(UUID().uuidString.prefix(8).lowercased())"
            let created = try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": id, "category": "weather", "connector": "mqtt"], expect: .created)
            let password = try #require((created["credentials"] as? [String: Any])?["password"] as? String)
            let endpoint = try MQTTEndpoint(url: MQTTTestBroker.url!)
            let process = Process()
            process.executableURL = CommandTests.binary
            process.arguments = ["simulate", "device", "--id=\(id)", "--password=\(password)", "--mqtt", "mqtt://\(endpoint.host):\(endpoint.port)",
                                 "--interval", "0.05", "--count", "3", "--field", "temperature"]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            defer { process.terminate() }

            let deadline = ContinuousClock.now + .seconds(15)
            var readings: [[String: Any]] = []
            while readings.count < 3, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                readings = try await t.client.json(.get, "/history?device=\(id)", token: t.adminToken)["readings"] as! [[String: Any]]
            }
            #expect(readings.count == 3)
            #expect(readings.allSatisfy { ($0["values"] as? [String: Any])?["temperature"] is Double })

            let sent = try await t.client.json(.post, "/devices/\(id)/commands", token: t.adminToken, body: ["name": "open", "timeoutMs": 10_000], expect: .accepted)
            let answered = try await t.client.json(.get, "/devices/\(id)/commands/\(sent["id"] as! String)?wait=true", token: t.adminToken)
            #expect(answered["status"] as? String == "acked")
            #expect((answered["result"] as? [String: Any])?["done"] as? String == "open")

            // Sent and answered in one request, many at once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let waited = try await t.client.json(.post, "/devices/\(id)/commands?wait=true", token: t.adminToken,
                                                             body: ["name": "alarm", "timeoutMs": 10_000], expect: .ok)
                        #expect(waited["status"] as? String == "acked")
                        #expect((waited["result"] as? [String: Any])?["done"] as? String == "alarm")
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}
