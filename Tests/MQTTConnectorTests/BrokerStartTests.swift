import CMCTesting
import Foundation
import Testing

/// `connectors/mqtt/broker`, the start script of `make run` and `make test`, on a broker of its own.
@Suite("Broker start script", .enabled(if: MQTTTestBroker.url != nil))
struct BrokerStartTests {
    static let connectors = TestBackend.migrationsDirectory.deletingLastPathComponent().appendingPathComponent("connectors/mqtt")

    @Test("a broker is left running while its configuration is the same, and restarted with the new one when it changes")
    func restartsOnChange() async throws {
        // A copy of the script beside a template this test may change.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cmc-broker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["broker", "mosquitto.conf.in"] {
            try FileManager.default.copyItem(at: Self.connectors.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let state = folder.appendingPathComponent("state"), port = 18877
        func start() async throws -> Int32 {
            let outcome = try await ExternalProcess.run(folder.appendingPathComponent("broker").path, [state.path, "\(port)", "start-test"])
            #expect(outcome.status == 0, "\(outcome.output)")
            return try #require(Int32(String(contentsOf: state.appendingPathComponent("mosquitto.pid"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        func accepts() async throws -> Bool {
            try await ExternalProcess.run("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", "\(port)", "-u", "cmc", "-P", "start-test", "-q", "1", "-t", "cmc/probe", "-m", "x"]).status == 0
        }

        let first = try await start()
        defer { kill(first, SIGTERM) }
        #expect(try await accepts())
        #expect(try await start() == first, "the same configuration keeps the running broker")

        let template = folder.appendingPathComponent("mosquitto.conf.in")
        try (String(contentsOf: template, encoding: .utf8) + "# changed by the test\n").write(to: template, atomically: true, encoding: .utf8)
        let second = try await start()
        defer { kill(second, SIGTERM) }
        #expect(second != first)
        #expect(kill(first, 0) != 0, "the broker with the old configuration is gone")
        #expect(try String(contentsOf: state.appendingPathComponent("mosquitto.conf"), encoding: .utf8).contains("# changed by the test"))
        #expect(try await accepts())
    }
}
