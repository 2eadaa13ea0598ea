import CMCTesting
import Foundation
import NIOConcurrencyHelpers
import Platform
import Testing

@Suite("Readiness")
struct ReadinessTests {
    @Test("a check that fails or hangs makes the process not ready once its last success is stale; it is ready again when it answers")
    func staleChecks() async throws {
        let up = NIOLockedValueBox(true), hanging = NIOLockedValueBox(false)
        let readiness = Readiness(checks: [
            .init("the database") { up.withLockedValue { $0 } },
            .init("the broker") {
                if hanging.withLockedValue({ $0 }) { try? await Task.sleep(for: .seconds(2)) }
                return true
            },
        ], interval: .milliseconds(20), staleAfter: .milliseconds(300))
        #expect(readiness.problems == ["the database", "the broker"], "nothing has answered yet")
        await readiness.probe()
        #expect(readiness.problems.isEmpty)
        let running = Task { try await readiness.run() }
        defer { running.cancel() }
        up.withLockedValue { $0 = false }
        try await Task.sleep(for: .milliseconds(600))
        #expect(readiness.problems == ["the database"])
        up.withLockedValue { $0 = true }
        hanging.withLockedValue { $0 = true }
        try await Task.sleep(for: .milliseconds(600))
        // The hanging probe goes stale alone: the database's own probe goes on.
        #expect(readiness.problems == ["the broker"])
        hanging.withLockedValue { $0 = false }
        let deadline = ContinuousClock.now + .seconds(4)
        while !readiness.problems.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(readiness.problems.isEmpty)
    }

    @Test("/health answers 503 with a JSON error while the broker is unreachable, 200 once it is connected", arguments: [TestBackend.sqlite])
    func healthFollowsTheBroker(backend: TestBackend) async throws {
        var configuration = TestPlatform.configuration()
        configuration.logLevel = .critical
        configuration.mqttURL = "mqtt://cmc:x@127.0.0.1:\(try freeTCPPort())"
        try await TestPlatform.run(backend, configuration: configuration) { t in
            let reply = try await t.client.send(.get, "/health")
            #expect(reply.status == .serviceUnavailable && reply.errorCode == "not_ready")
            #expect(reply.errorMessage == "not ready: the broker did not answer in the last seconds", "\(reply.text)")
        }
        guard let broker = MQTTTestBroker.url else { return }
        configuration.mqttURL = broker
        configuration.mqttClientID = "cmc-ingest-health-\(UUID().uuidString.prefix(6))"
        try await TestPlatform.run(backend, configuration: configuration) { t in
            let deadline = ContinuousClock.now + .seconds(5)
            var status = try await t.client.send(.get, "/health").status
            while status != .ok, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                status = try await t.client.send(.get, "/health").status
            }
            #expect(status == .ok)
        }
    }
}
