import CMCCore
import CMCTesting
import Foundation
import MQTT
import MQTTConnector
import Platform
import Testing

/// Against the real Mosquitto that `make test` starts (`CMC_TEST_MQTT_URL`), fed by the real
/// `mosquitto_pub`.
@Suite("MQTT ingest", .enabled(if: MQTTTestBroker.url != nil))
struct MQTTIngestTests {
    /// Publishes each line of `messages` to `topic` with QoS 1 through `mosquitto_pub`.
    static func publish(_ messages: [String], topic: String, whole: Bool = false) async throws {
        let outcome = try await Mosquitto.publisher(messages, topic: topic, whole: whole).finished()
        #expect(outcome.status == 0, "\(outcome.output)")
    }

    static func configuration() -> PlatformConfiguration {
        var configuration = TestPlatform.configuration()
        configuration.mqttURL = MQTTTestBroker.url
        configuration.mqttClientID = "test-\(UUID().uuidString)"
        return configuration
    }

    /// Runs the ingest service until `body` returns.
    static func withIngest<Result: Sendable>(_ t: TestPlatform, clientID: String, root: String, _ body: @Sendable () async throws -> Result) async throws -> Result {
        let ingest = try #require(try t.platform.mqttIngest(clientID: clientID, root: root))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await ingest.run() }
            defer { group.cancelAll() }
            await ingest.waitUntilConnected()
            return try await body()
        }
    }

    static func waitFor(_ count: Int, device: String, _ t: TestPlatform, timeout: Duration = .seconds(20)) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let page = try await t.client.json(.get, "/history?device=\(device)&limit=10000", token: t.adminToken)
            let readings = page["readings"] as! [[String: Any]]
            if readings.count >= count || ContinuousClock.now > deadline { return readings }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    @Test("readings published over MQTT are validated and stored like REST writes; bad ones are counted", arguments: TestBackend.all)
    func ingest(backend: TestBackend) async throws {
        try await TestPlatform.run(backend, configuration: Self.configuration()) { t in
            let root = "cmc/test-\(UUID().uuidString.prefix(8).lowercased())"
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "meter-1", "category": "energy", "connector": "mqtt"], expect: .created)
            try await Self.withIngest(t, clientID: "test-\(UUID().uuidString)", root: root) {
                // Refused messages first: the broker delivers in order, so once the valid readings
                // below are stored, these have been handled too.
                try await Self.publish([#"{"values":{"kwh":9}}"#], topic: "\(root)/devices/no-such-device/data")
                try await Self.publish([#"{"values":{"blob":""# + String(repeating: "x", count: 1_200_000) + #""}}"#], topic: "\(root)/devices/meter-1/data", whole: true)
                try await Self.publish([
                    #"{"values":{"kwh":1.5}}"#,
                    #"[{"ts":"2026-01-01T00:00:00Z","values":{"kwh":1}},{"ts":"2026-01-01T00:01:00Z","values":{"kwh":2}}]"#,
                    #"{"values":"#,
                    #"{"values":{"kwh":1},"extra":true}"#,
                    #"{"ts":"2999-01-01T00:00:00Z","values":{"kwh":1}}"#,
                    "\u{1}\u{2}garbage",
                    #"{"values":{"kwh":3}}"#,
                ], topic: "\(root)/devices/meter-1/data")
                let readings = try await Self.waitFor(4, device: "meter-1", t)
                #expect(readings.count == 4)
                let values = readings.compactMap { ($0["values"] as? [String: Any])?["kwh"] as? Double }.sorted()
                #expect(values == [1, 1.5, 2, 3])
                #expect(readings.allSatisfy { $0["connector"] as? String == "mqtt" })
                let metrics = try await t.client.send(.get, "/metrics").text
                #expect(metrics.contains("cmc_mqtt_rejected_total{reason=\"malformed\"}"))
                #expect(metrics.contains("cmc_mqtt_rejected_total{reason=\"invalid\"}"))
                #expect(metrics.contains("cmc_mqtt_rejected_total{reason=\"unknown_device\"}"))
                #expect(metrics.contains("cmc_mqtt_rejected_total{reason=\"oversize\"}"))
            }
        }
    }

    @Test("readings published while the platform is down are stored when it comes back", arguments: TestBackend.all)
    func persistentSession(backend: TestBackend) async throws {
        try await TestPlatform.run(backend, configuration: Self.configuration()) { t in
            let root = "cmc/test-\(UUID().uuidString.prefix(8).lowercased())"
            let clientID = "test-\(UUID().uuidString)"
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "loop-7", "category": "traffic", "connector": "mqtt"], expect: .created)
            // The first run makes the broker keep a session for this client id.
            try await Self.withIngest(t, clientID: clientID, root: root) {}
            let start = 1_767_225_600  // 2026-01-01
            try await Self.publish((0..<1000).map { #"{"ts":\#(start + $0),"values":{"flow":\#($0)}}"# }, topic: "\(root)/devices/loop-7/data")
            try await Self.withIngest(t, clientID: clientID, root: root) {
                let readings = try await Self.waitFor(1000, device: "loop-7", t)
                #expect(readings.count == 1000)
                #expect(Set(readings.compactMap { ($0["values"] as? [String: Any])?["flow"] as? Int }) == Set(0..<1000))
            }
        }
    }

    @Test("a broker that refuses the ingest's password stops it with the reason; one not there yet is waited for until the platform stops")
    func absentOrRefusingBroker() async throws {
        var endpoint = try MQTTEndpoint(url: MQTTTestBroker.url!)
        endpoint.password = "not-the-password"
        var refusing = TestPlatform.configuration()
        refusing.mqttURL = "mqtt://\(endpoint.username ?? ""):\(endpoint.password!)@\(endpoint.host):\(endpoint.port)"
        try await TestPlatform.run(.sqlite, configuration: refusing) { t in
            let ingest = try #require(try t.platform.mqttIngest(clientID: "test-\(UUID().uuidString)", root: "cmc/test-refused"))
            let error = await #expect(throws: MQTTError.self) { try await ingest.run() }
            #expect("\(error.map { "\($0)" } ?? "")".contains("refused in CONNACK"), "the reason the broker gave")
        }
        var absent = TestPlatform.configuration()
        absent.mqttURL = "mqtt://cmc:x@127.0.0.1:9"  // discard: nothing listens
        try await TestPlatform.run(.sqlite, configuration: absent) { t in
            let ingest = try #require(try t.platform.mqttIngest(clientID: "test-\(UUID().uuidString)", root: "cmc/test-absent"))
            let running = Task { () async throws -> ContinuousClock.Instant in
                try await ingest.run()
                return .now
            }
            try await Task.sleep(for: .milliseconds(1500))
            let cancelled = ContinuousClock.now
            running.cancel()
            let ended = try await running.value
            #expect(ended >= cancelled, "the ingest waited for the broker rather than give up")
            #expect(ended - cancelled < .seconds(5), "cancelling ends the wait at once")
        }
    }
}
