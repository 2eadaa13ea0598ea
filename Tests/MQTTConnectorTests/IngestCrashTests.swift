import CMCCore
import CMCTesting
import Foundation
import MQTT
import Testing

/// `cmc serve` killed with SIGKILL while a real `mosquitto_pub` sends it readings through the real
/// broker, then started again on the same database.
@Suite("MQTT ingest through a crash", .enabled(if: MQTTTestBroker.url != nil))
struct IngestCrashTests {
    static let readings = 30_000
    static let start: Int64 = 1_767_225_600_000_000  // 2026-01-01, in microseconds

    static func line(_ index: Int) -> String {
        #"{"ts":"\#(Timestamp(microseconds: start + Int64(index) * 1000))","values":{"seq":\#(index)}}"#
    }

    /// Whether `condition` held within `seconds`.
    @discardableResult
    static func until(seconds: Int, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    @Test("kill -9 of cmc serve while 30,000 QoS 1 readings arrive: after a restart every reading the broker accepted is stored, once",
          arguments: TestBackend.all)
    func killed(backend: TestBackend) async throws {
        let clientID = "test-crash-\(UUID().uuidString.prefix(8).lowercased())"
        do {
            try await killed(backend: backend, clientID: clientID)
        } catch {
            // A session left behind would queue every later test's readings.
            await Mosquitto.discardSession(clientID)
            throw error
        }
    }

    func killed(backend: TestBackend, clientID: String) async throws {
        try await backend.withDatabase { database, url in
            try await TestPlatform.run(database: database) { t in
                let suffix = UUID().uuidString.prefix(8).lowercased()
                let (device, probe) = ("crash-\(suffix)", "probe-\(suffix)")
                for id in [device, probe] {
                    try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": id, "category": "traffic", "connector": "mqtt"], expect: .created)
                }
                func serve() throws -> ExternalProcess {
                    try CMCBinary.start(["serve", "--database", url], environment: [
                        "CMC_HOST": "127.0.0.1", "CMC_PORT": "0", "CMC_COAP_PORT": "off", "CMC_CONNECTORS_DIR": "off",
                        "CMC_MQTT_URL": MQTTTestBroker.url!, "CMC_MQTT_CLIENT_ID": clientID,
                    ])
                }
                func stored(_ id: String) async throws -> Int {
                    Int(try await database.query("SELECT count(*) AS n FROM readings WHERE device_id = $1", .text(id))[0].int("n"))
                }

                var server = try serve()
                defer { server.send(SIGKILL) }
                // Subscribed once a probe is stored; from then on the broker keeps what comes for the session.
                let subscribed = try await Self.until(seconds: 30) {
                    _ = try await Mosquitto.publisher([#"{"values":{"n":1}}"#], topic: "cmc/devices/\(probe)/data").finished()
                    return try await stored(probe) > 0
                }
                try #require(subscribed, "cmc serve stored no MQTT reading within 30 s")
                let publisher = try Mosquitto.publisher((0..<Self.readings).map(Self.line), topic: "cmc/devices/\(device)/data")
                defer { publisher.send(SIGKILL) }
                try #require(try await Self.until(seconds: 60) { try await stored(device) >= 1000 }, "no readings stored within 60 s")
                server.send(SIGKILL)
                _ = await server.finished()
                let atCrash = try await stored(device)
                let published = await publisher.finished()
                #expect(published.status == 0, "mosquitto_pub: \(published.output)")

                server = try serve()
                try await Self.until(seconds: 60) { try await stored(device) >= Self.readings }
                // Anything sent again and stored twice would show now.
                try await Task.sleep(for: .milliseconds(500))
                server.terminate()
                _ = await server.finished()
                await Mosquitto.discardSession(clientID)

                let row = try await database.query(
                    "SELECT count(*) AS n, count(DISTINCT ts) AS times, min(ts) AS first, max(ts) AS last FROM readings WHERE device_id = $1", .text(device)
                )[0]
                #expect(try row.int("n") == Int64(Self.readings))
                #expect(try row.int("times") == Int64(Self.readings))
                #expect(try row.int("first") == Self.start)
                #expect(try row.int("last") == Self.start + Int64(Self.readings - 1) * 1000)
                #expect(atCrash < Self.readings, "all readings were stored before the crash, so it proved nothing")
            }
        }
    }
}
