import CMCCore
import CMCTesting
import Foundation
import MQTT
import MQTTConnector
import Platform
import Testing

/// Device accounts in the real broker, exercised with the real `mosquitto_pub`.
@Suite("Broker accounts", .enabled(if: MQTTTestBroker.url != nil))
struct BrokerAccountTests {
    /// Runs `mosquitto_pub` as a device (its account and client id `device:<id>` unless `clientID`
    /// says otherwise); returns its exit status (0: the broker took the connection).
    static func publish(as device: String, password: String, topic: String, message: String, clientID: String? = nil) async throws -> Int32 {
        try await publish(username: "device:\(device)", password: password, clientID: clientID ?? "device:\(device)", topic: topic, message: message)
    }

    static func publish(username: String, password: String, clientID: String, topic: String, message: String) async throws -> Int32 {
        let endpoint = try MQTTEndpoint(url: MQTTTestBroker.url!)
        return try await ExternalProcess.run("/usr/bin/mosquitto_pub", [
            "-h", endpoint.host, "-p", "\(endpoint.port)", "-i", clientID, "-u", username, "-P", password, "-q", "1", "-t", topic, "-m", message,
        ]).status
    }

    /// Returns once the platform's own ingest has its subscription: a reading published before
    /// that goes to a session that does not exist yet.
    static func ingestReady(_ t: TestPlatform) async {
        for case let ingest as MQTTIngest in t.platform.services { _ = await ingest.waitUntilConnected() }
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
            #expect(credentials["username"] as? String == "device:\(a)")
            #expect(credentials["clientId"] as? String == "device:\(a)")
            let password = try #require(credentials["password"] as? String)
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": b, "category": "energy", "connector": "mqtt"], expect: .created)
            // Reading the device again never shows the password.
            #expect(!(try await t.client.send(.get, "/devices/\(a)", token: t.adminToken)).text.contains(password))

            await Self.ingestReady(t)
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
            #expect(try await t.client.send(.post, "/devices/http-\(suffix)/credentials", token: t.adminToken).status == .conflict)
        }
    }

    @Test("a device id cannot name the platform's own broker account, nor a device take the platform's session", arguments: TestBackend.all)
    func reservedAccounts(backend: TestBackend) async throws {
        try await TestPlatform.run(backend, configuration: MQTTIngestTests.configuration()) { t in
            let endpoint = try MQTTEndpoint(url: MQTTTestBroker.url!)
            let admin = (endpoint.username ?? "", endpoint.password ?? "")
            let citizen = try await t.user("mallory")
            // The platform's admin account is "cmc": a device of that id gets an account of its own.
            let created = try await t.client.json(.post, "/devices", token: citizen.token, body: ["id": admin.0, "category": "energy", "connector": "mqtt"], expect: .created)
            let credentials = try #require(created["credentials"] as? [String: Any])
            #expect(credentials["username"] as? String == "device:\(admin.0)")
            let password = try #require(credentials["password"] as? String)
            #expect(try await Self.publish(username: admin.0, password: admin.1, clientID: "probe-\(UUID().uuidString)", topic: "cmc/probe", message: "x") == 0,
                    "the platform's admin password must be unchanged")
            #expect(try await Self.publish(username: admin.0, password: password, clientID: "probe-\(UUID().uuidString)", topic: "cmc/probe", message: "x") != 0)
            // The account manager still works: the next device gets its account and publishes.
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let next = "meter-\(suffix)"
            let second = try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": next, "category": "energy", "connector": "mqtt"], expect: .created)
            let secondPassword = try #require((second["credentials"] as? [String: Any])?["password"] as? String)

            await Self.ingestReady(t)
            // A device account connects only with its own client id: not as the platform's ingest, not as another device.
            for stolen in [t.platform.configuration.mqttClientID, "cmc-ingest", "device:\(admin.0)"] {
                #expect(try await Self.publish(as: next, password: secondPassword, topic: "cmc/devices/\(next)/data", message: "{}", clientID: stolen) != 0,
                        "client id \(stolen)")
            }
            #expect(try await Self.publish(as: next, password: secondPassword, topic: "cmc/devices/\(next)/data", message: #"{"values":{"kwh":4}}"#) == 0)
            let deadline = ContinuousClock.now + .seconds(15)
            while try await Self.history(next, t).isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(try await Self.history(next, t).count == 1, "the platform's ingest still receives")

            // The id registered again after its device went: a new account, the old password gone with the old one.
            try await t.client.json(.delete, "/devices/\(admin.0)", token: citizen.token, expect: .noContent)
            let again = try await t.client.json(.post, "/devices", token: citizen.token, body: ["id": admin.0, "category": "energy", "connector": "mqtt"], expect: .created)
            let againPassword = try #require((again["credentials"] as? [String: Any])?["password"] as? String)
            #expect(try await Self.publish(as: admin.0, password: password, topic: "cmc/devices/\(admin.0)/data", message: "{}") != 0)
            #expect(try await Self.publish(as: admin.0, password: againPassword, topic: "cmc/devices/\(admin.0)/data", message: "{}") == 0)
            try await t.client.json(.delete, "/devices/\(admin.0)", token: citizen.token, expect: .noContent)
            try await t.client.json(.delete, "/devices/\(next)", token: t.adminToken, expect: .noContent)
        }
    }
}
