import CMCCore
import CMCTesting
import DemoCity
import Foundation
import Hummingbird
import HummingbirdTesting
import Platform
import Testing

/// The demo city as `make run` starts it: the platform reads `connectors/*.json` from the demo
/// feed publisher, and answers the scenario's question.
@Suite("Demo city and /mobility/around")
struct DemoCityPlatformTests {
    static let services: [(key: String, category: String, radius: Int)] = [
        ("traffic", "traffic", 500), ("busStops", "bus_stop", 200), ("carsharing", "carsharing", 300), ("bikesharing", "bikesharing", 500),
    ]

    static let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The project's connector files, pointed at the publisher's port.
    static func connectors(base: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cmc-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let source = project.appendingPathComponent("connectors")
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".json") {
            let text = try String(contentsOf: source.appendingPathComponent(name), encoding: .utf8)
            try text.replacingOccurrences(of: "http://127.0.0.1:8090", with: base).write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent("demo"), withDestinationURL: source.appendingPathComponent("demo"))
        return directory
    }

    @Test("make run's city: every layer at the evaluation's scale, live, and the scenario in one call", arguments: TestBackend.all)
    func demo(backend: TestBackend) async throws {
        let morning = Timestamp(parsing: "2026-11-24T07:15:00Z")!
        let publisher = Application(router: try DemoFeedServer(now: { morning }).router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await publisher.test(.live) { feeds in
            let directory = try Self.connectors(base: "http://127.0.0.1:\(feeds.port!)")
            defer { try? FileManager.default.removeItem(at: directory) }
            var configuration = TestPlatform.configuration()
            configuration.connectorsDirectory = directory
            try await TestPlatform.run(backend, configuration: configuration) { t in
                // Wait for every source's first good run, then run the realtime ones again now the stops exist.
                var statuses: [String: [String: Any]] = [:]
                let deadline = ContinuousClock.now + .seconds(90)
                while ContinuousClock.now < deadline {
                    let list = try await t.client.json(.get, "/persistence/sources", token: t.adminToken)
                    for record in list["sources"] as? [[String: Any]] ?? [] {
                        statuses[(record["source"] as? [String: Any])?["id"] as? String ?? ""] = record["status"] as? [String: Any]
                    }
                    if statuses.count == 7, statuses.values.allSatisfy({ $0["lastResult"] != nil }) { break }
                    try await Task.sleep(for: .milliseconds(250))
                }
                for (id, status) in statuses { #expect(status["lastResult"] as? String == "ok", "\(id): \(status)") }
                let realtime = try await t.client.json(.post, "/persistence/sources/cagliari-bus-realtime/run", token: t.adminToken)
                let realtimeStatus = realtime["status"] as? [String: Any] ?? [:]
                #expect(realtimeStatus["skipped"] as? [String: Int] ?? [:] == [:], "\(realtimeStatus)")

                for (category, count) in [("parking", 5), ("bus_stop", 300), ("traffic", 100), ("carsharing", 30), ("bikesharing", 5)] {
                    let page = try await t.client.json(.get, "/devices?category=\(category)&limit=1000", token: t.adminToken)
                    #expect((page["devices"] as? [Any])?.count == count, "\(category)")
                }
                let buses = try await t.client.json(.get, "/devices?category=bus&limit=1000", token: t.adminToken)
                #expect(((buses["devices"] as? [Any])?.count ?? 0) > 20)

                // A citizen going to Piazza Yenne.
                let citizen = try await t.user("ada")
                let around = try await t.client.json(.get, "/mobility/around?lat=39.2178&lon=9.1125&radius=700", token: citizen.token)
                let parkings = around["parkings"] as? [[String: Any]] ?? []
                #expect(parkings.count >= 2)
                var found: [String: Int] = [:]
                for parking in parkings {
                    let device = parking["device"] as? [String: Any] ?? [:]
                    #expect(((parking["latest"] as? [String: Any])?["values"] as? [String: Any])?["free"] is Int)
                    let location = device["location"] as? [String: Double] ?? [:]
                    let services = parking["around"] as? [String: [[String: Any]]] ?? [:]
                    #expect(Set(services.keys) == ["traffic", "busStops", "carsharing", "bikesharing"])
                    // Each list is what a near query of the registry gives, each item with its latest reading.
                    for service in Self.services {
                        let lat = location["lat"] ?? 0, lon = location["lon"] ?? 0
                        let uri = "/devices?category=\(service.category)&near=\(lat),\(lon)&radius=\(service.radius)&limit=50"
                        let near = try await t.client.json(.get, uri, token: citizen.token)
                        let key = service.key
                        let items = services[key] ?? []
                        let listed: [String] = items.compactMap { item in (item["device"] as? [String: Any])?["id"] as? String }
                        let expected: [String] = (near["devices"] as? [[String: Any]] ?? []).compactMap { device in device["id"] as? String }
                        #expect(listed == expected, "\(key)")
                        // Stops have a reading while buses approach them (delays); every sensor and station has one.
                        if key != "busStops" { #expect(items.allSatisfy { $0["latest"] is [String: Any] }, "\(key)") }
                        found[key, default: 0] += items.count
                    }
                    #expect((services["busStops"] ?? []).allSatisfy { ($0["departures"] as? [Any])?.count == 3 })
                }
                #expect(found.values.allSatisfy { $0 > 0 }, "\(found)")
                let withDelay = try await t.client.json(.get, "/history?category=bus_stop&limit=5", token: t.adminToken)
                let delays = (withDelay["readings"] as? [[String: Any]] ?? []).compactMap { ($0["values"] as? [String: Any])?["reliability"] as? [String: Double] }
                #expect(!delays.isEmpty && delays.allSatisfy { $0.values.allSatisfy { (0...1).contains($0) } })

                let bad = try await t.client.send(.get, "/mobility/around?lat=39.2&radius=100", token: citizen.token)
                #expect(bad.status == .badRequest && bad.errorMessage?.contains("lon") == true)
                let far = try await t.client.send(.get, "/mobility/around?lat=39.2&lon=9.1&radius=9000", token: citizen.token)
                #expect(far.status == .badRequest && far.errorMessage?.contains("radius") == true)
                // The scenario is public: without a token it answers from the public devices, which the city's all are.
                let anonymous = try await t.client.json(.get, "/mobility/around?lat=39.2178&lon=9.1125&radius=700")
                #expect((anonymous["parkings"] as? [Any])?.count == parkings.count)
            }
        }
    }
}
