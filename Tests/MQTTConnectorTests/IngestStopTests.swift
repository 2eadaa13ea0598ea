import CMCCore
import CMCTesting
import Foundation
import MQTT
import Testing

/// How `cmc serve` is stopped while readings arrive.
enum Stop: String, CustomStringConvertible, Sendable, CaseIterable {
    /// SIGKILL: a crash; nothing of the process runs.
    case crash
    /// SIGTERM: the ordered stop (HTTP, then the ingest's last batch, then the database).
    case terminate

    var signal: Int32 { self == .crash ? SIGKILL : SIGTERM }
    var readings: Int { self == .crash ? 30_000 : 20_000 }
    var description: String { rawValue }
}

/// `cmc serve` stopped (killed, or sent SIGTERM) while a real `mosquitto_pub` sends it readings
/// through the real broker, then started again on the same database.
@Suite("MQTT ingest through a crash and a stop", .enabled(if: MQTTTestBroker.url != nil))
struct IngestStopTests {
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

    @Test("kill -9 (30,000 QoS 1 readings) or SIGTERM (20,000) of cmc serve while they arrive: after a restart every reading the broker accepted is stored, once",
          arguments: TestBackend.all, Stop.allCases)
    func stopped(backend: TestBackend, stop: Stop) async throws {
        let clientID = "test-\(stop)-\(UUID().uuidString.prefix(8).lowercased())"
        do {
            try await stopped(backend: backend, stop: stop, clientID: clientID)
        } catch {
            // A session left behind would queue every later test's readings.
            await Mosquitto.discardSession(clientID)
            throw error
        }
    }

    func stopped(backend: TestBackend, stop: Stop, clientID: String) async throws {
        let readings = stop.readings
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
                let publisher = try Mosquitto.publisher((0..<readings).map(Self.line), topic: "cmc/devices/\(device)/data")
                defer { publisher.send(SIGKILL) }
                try #require(try await Self.until(seconds: 60) { try await stored(device) >= 1000 }, "no readings stored within 60 s")
                let stopping = ContinuousClock.now
                server.send(stop.signal)
                let ended = await server.finished()
                let stopTime = ContinuousClock.now - stopping
                let atStop = try await stored(device)
                if stop == .terminate {
                    // A clean exit, within the bound (30 s by default) and in practice much sooner.
                    #expect(ended.status == 0, "cmc serve after SIGTERM: \(ended.output)")
                    #expect(stopTime < .seconds(30), "the stop took \(stopTime)")
                    print("stop under load (\(backend)): \(stopTime), \(atStop) of \(readings) readings stored by then")
                }
                let published = await publisher.finished()
                #expect(published.status == 0, "mosquitto_pub: \(published.output)")

                server = try serve()
                try await Self.until(seconds: 60) { try await stored(device) >= readings }
                // Anything sent again and stored twice would show now.
                try await Task.sleep(for: .milliseconds(500))
                server.terminate()
                _ = await server.finished()
                await Mosquitto.discardSession(clientID)

                let row = try await database.query(
                    "SELECT count(*) AS n, count(DISTINCT ts) AS times, min(ts) AS first, max(ts) AS last FROM readings WHERE device_id = $1", .text(device)
                )[0]
                #expect(try row.int("n") == Int64(readings))
                #expect(try row.int("times") == Int64(readings))
                #expect(try row.int("first") == Self.start)
                #expect(try row.int("last") == Self.start + Int64(readings - 1) * 1000)
                #expect(atStop < readings, "all readings were stored before the stop, so it proved nothing")
            }
        }
    }
}
