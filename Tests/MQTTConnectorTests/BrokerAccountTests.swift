import CMCCore
import CMCTesting
import Foundation
import MQTT
import Platform
import Testing

/// Device accounts in the real broker, exercised with the real `mosquitto_pub`.
@Suite("Broker accounts", .enabled(if: MQTTTestBroker.url != nil))
struct BrokerAccountTests {
    /// Runs `mosquitto_pub` as a device; returns its exit status (0: the broker took the connection).
    static func publish(as username: String, password: String, topic: String, message: String) async throws -> Int32 {
        let endpoint = try MQTTEndpoint(url: MQTTTestBroker.url!)
        return try await ExternalProcess.run("/usr/bin/mosquitto_pub", [
            "-h", endpoint.host, "-p", "\(endpoint.port)", "-u", username, "-P", password, "-q", "1", "-t", topic, "-m", message,
        ]).status
    }

    static func history(_ device: String, _ t: TestPlatform) async throws -> [[String: Any]] {
        try await t.client.json(.get, "/history?device=\(device)", token: t.adminToken)["readings"] as! [[String: Any]]
    }

    @Test("an MQTT device gets its own account, usable only for its own topics, gone when the device is", arguments: TestBackend.all)
    func accounts(backend: TestBackend) async throws {
        try await TestPlatform.run(backend, configuration: MQTTIngestTests.configuration()) { t in
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let a = "meter-a-\(suffix)", b = "meter-b-\(suffix)"
            let created = try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": a, "category": "energy", "connector": "mqtt"], expect: .created)
            let credentials = try #require(created["credentials"] as? [String: Any])
            #expect(credentials["username"] as? String == a)
            let password = try #require(credentials["password"] as? String)
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": b, "category": "energy", "connector": "mqtt"], expect: .created)
            // Reading the device again never shows the password.
            #expect(!(try await t.client.send(.get, "/devices/\(a)", token: t.adminToken)).text.contains(password))

            // Into another device's topic: the broker drops it. Into its own: stored.
            _ = try await Self.publish(as: a, password: password, topic: "cmc/devices/\(b)/data", message: #"{"values":{"kwh":666}}"#)
            #expect(try await Self.publish(as: a, password: password, topic: "cmc/devices/\(a)/data", message: #"{"values":{"kwh":1}}"#) == 0)
            let deadline = ContinuousClock.now + .seconds(15)
            while try await Self.history(a, t).isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(try await Self.history(a, t).count == 1)
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await Self.history(b, t).isEmpty, "a device must not write into another device's topic")
            #expect(try await Self.publish(as: a, password: "wrong", topic: "cmc/devices/\(a)/data", message: "{}") != 0)

            // A renewed password replaces the old one.
            let renewed = try await t.client.json(.post, "/devices/\(a)/credentials", token: t.adminToken)
            let newPassword = try #require((renewed["credentials"] as? [String: Any])?["password"] as? String)
            #expect(newPassword != password)
            #expect(try await Self.publish(as: a, password: password, topic: "cmc/devices/\(a)/data", message: "{}") != 0)
            #expect(try await Self.publish(as: a, password: newPassword, topic: "cmc/devices/\(a)/data", message: #"{"values":{"kwh":2}}"#) == 0)

            // Deleting the device removes its account.
            try await t.client.json(.delete, "/devices/\(a)", token: t.adminToken, expect: .noContent)
            #expect(try await Self.publish(as: a, password: newPassword, topic: "cmc/devices/\(a)/data", message: "{}") != 0)
            try await t.client.json(.delete, "/devices/\(b)", token: t.adminToken, expect: .noContent)

            // Devices on other connectors have no broker account.
            let http = try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "http-\(suffix)", "category": "energy", "connector": "http"], expect: .created)
            #expect(http["credentials"] == nil)
            #expect(try await t.client.send(.post, "/devices/http-\(suffix)/credentials", token: t.adminToken).status == .badRequest)
        }
    }
}
