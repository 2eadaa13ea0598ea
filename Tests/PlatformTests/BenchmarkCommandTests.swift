import CMCTesting
import Foundation
import Testing

/// `cmc-bench` runs end to end, small: the figures it writes are complete and the workloads meet
/// no failure. (How fast is for `make bench` to say, not for a test.)
@Suite("cmc-bench", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk")))
struct BenchmarkCommandTests {
    static func json(_ file: URL) throws -> Any { try JSONSerialization.jsonObject(with: Data(contentsOf: file)) }

    static func bench(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let outcome = try await CMCBinary.start(arguments, executable: CMCBinary.benchURL).finished()
        return (outcome.status, outcome.output)
    }

    @Test("the user pattern runs beside its ceilings and its chart is drawn",
          .enabled(if: CMCBinary.isBuilt))
    func pattern() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cmc-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let figures = directory.appendingPathComponent("pattern.json")
        let run = try await Self.bench(["pattern", "--devices", "880", "--users", "2,4", "--iterations", "3", "--json", figures.path])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("of wrk's"))

        let measurements = try #require(try Self.json(figures) as? [[String: Any]])
        #expect(measurements.map { $0["users"] as? Int } == [2, 4])
        for measurement in measurements {
            #expect(measurement["devices"] as? Int == 880)
            let pattern = try #require(measurement["pattern"] as? [String: Any])
            #expect(pattern["failures"] as? Int == 0)
            #expect(pattern["patterns"] as? Int == 3 * (measurement["users"] as! Int))
            // At least the parking search of each pattern; at most its ten requests.
            let requests = try #require(pattern["requests"] as? Int)
            #expect((3 * (measurement["users"] as! Int)...30 * (measurement["users"] as! Int)).contains(requests))
            #expect((pattern["p99Ms"] as? Double ?? 0) >= (pattern["medianMs"] as? Double ?? 0))
            // The ceiling outlasts these few patterns: a fraction of a second measures a moment.
            let health = try #require(measurement["health"] as? [String: Any])
            #expect((health["seconds"] as? Double ?? 0) >= 2)
            #expect((health["requests"] as? Int ?? 0) >= 18 * (measurement["users"] as! Int))
            #expect(((measurement["wrkHealth"] as? [String: Any])?["requestsPerSecond"] as? Double ?? 0) > 0)
            #expect((measurement["storageGeoQueriesPerSecond"] as? Double ?? 0) > 0)
            #expect((measurement["patternToWrk"] as? Double ?? 0) > 0)
        }

        let chart = directory.appendingPathComponent("pattern.svg")
        let drawn = try await Self.bench(["chart", "--output", chart.path, figures.path])
        #expect(drawn.status == 0, "\(drawn.output)")
        let svg = try String(contentsOf: chart, encoding: .utf8)
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("880 devices, sqlite"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)  // mean and p99
        #expect(svg.components(separatedBy: "<circle").count - 1 == 2)  // one per user count
    }

    @Test("concurrent commands are all acknowledged by the simulated GPIO device, by our client and by siege",
          .enabled(if: MQTTTestBroker.url != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/siege")
                   && CMCBinary.isBuilt))
    func commands() async throws {
        let figures = FileManager.default.temporaryDirectory.appendingPathComponent("cmc-commands-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: figures) }
        let run = try await Self.bench(["commands", "--mqtt", MQTTTestBroker.url!, "--users", "5,10", "--siege", "--json", figures.path])
        #expect(run.status == 0, "\(run.output)")
        let report = try #require(try Self.json(figures) as? [String: Any])
        let rounds = try #require(report["rounds"] as? [[String: Any]])
        for tool in ["cmc-bench commands", "siege"] {
            let mine = rounds.filter { $0["tool"] as? String == tool }
            #expect(mine.map { $0["n"] as? Int } == [5, 10], "\(tool)")
            for round in mine {
                #expect(round["x"] as? Int == round["n"] as? Int, "\(tool): one command per user")
                #expect(round["y"] as? Int == 0, "\(tool)")
                #expect(round["successRate"] as? Double == 100, "\(tool)")
                #expect((round["LT"] as? Double ?? -1) >= (round["ST"] as? Double ?? 0), "\(tool)")
            }
        }
        #expect(!run.output.contains("not acknowledged"))
        #expect((report["brokerMessagesPerSecond"] as? Double ?? 0) > 0)
    }
}
