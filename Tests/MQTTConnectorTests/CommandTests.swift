import CMCCore
import CMCTesting
import Foundation
import MQTT
import Platform
import Testing

/// Commands to a device played by the real `mosquitto_sub` / `mosquitto_pub` with the device's
/// own broker account.
@Suite("Device commands", .enabled(if: MQTTTestBroker.url != nil))
struct CommandTests {
    static let binary = TestBackend.migrationsDirectory.deletingLastPathComponent().appendingPathComponent(".build/debug/cmc")

    /// Starts `mosquitto_sub` as the device, printing `topic payload` for `count` commands.
    static func listen(as username: String, password: String, count: Int) throws -> ExternalProcess {
        let endpoint = try MQTTEndpoint(url: MQTTTestBroker.url!)
        return try ExternalProcess("/usr/bin/mosquitto_sub", [
            "-h", endpoint.host, "-p", "\(endpoint.port)", "-u", username, "-P", password, "-q", "1",
            "-t", "cmc/devices/\(username)/commands/+", "-C", "\(count)", "-v", "-W", "20",
        ], captureErrors: false)
    }

    @Test("a command reaches the device, its acknowledgement or silence settles it", arguments: TestBackend.all)
    func commands(backend: TestBackend) async throws {
        try await TestPlatform.run(backend, configuration: MQTTIngestTests.configuration()) { t in
            let id = "door-\(UUID().uuidString.prefix(8).lowercased())"
            let created = try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": id, "category": "intercom", "connector": "mqtt"], expect: .created)
            let password = try #require((created["credentials"] as? [String: Any])?["password"] as? String)
            let listener = try Self.listen(as: id, password: password, count: 2)
            try await Task.sleep(for: .milliseconds(500))  // let the device's subscription land

            let sent = try await t.client.json(.post, "/devices/\(id)/commands", token: t.adminToken,
                                               body: ["name": "open", "params": ["seconds": 3], "timeoutMs": 10_000], expect: .accepted)
            #expect(sent["status"] as? String == "delivered")
            let commandID = try #require(sent["id"] as? String)
            #expect(try await BrokerAccountTests.publish(as: id, password: password, topic: "cmc/devices/\(id)/commands/\(commandID)/ack",
                                                   message: #"{"ok":true,"result":{"opened":true}}"#) == 0)
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

            let received = await listener.finished().output
            #expect(received.contains("cmc/devices/\(id)/commands/\(commandID) "))
            #expect(received.contains(#""name":"open""#))
            #expect(received.contains(#""seconds":3"#))

            // Not the owner: the device is invisible. Not an MQTT device: no channel.
            let citizen = try await t.user("carla")
            #expect(try await t.client.send(.post, "/devices/\(id)/commands", token: citizen.token, body: ["name": "open"]).status == .notFound)
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "http-\(id)", "category": "intercom", "connector": "http"], expect: .created)
            #expect(try await t.client.send(.post, "/devices/http-\(id)/commands", token: t.adminToken, body: ["name": "open"]).status == .badRequest)
            #expect(try await t.client.send(.post, "/devices/\(id)/commands", token: t.adminToken, body: ["name": "open", "timeoutMs": 5]).status == .badRequest)
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
