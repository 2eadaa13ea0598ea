import ArgumentParser
import AsyncHTTPClient
import Auth
import CMCCore
import CMCStorage
import Foundation
import Logging
import MQTT
import NIOCore
import NIOHTTP1
import Platform
import ServiceLifecycle

/// The smart-intercom evaluation's concurrent commands (Huang et al., Electronics 2023, Table 3):
/// n users at once each send one "alarm" command to a GPIO device played by `cmc simulate device`,
/// which acknowledges it over MQTT; a transaction ends when the platform answers with the
/// device's acknowledgement (`POST /devices/{id}/commands?wait=true`).
struct CommandsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "commands", abstract: "Replay the smart-intercom concurrent command test.")

    @Option(help: "Broker URL with the platform's admin account (make run's broker: see data/mosquitto).") var mqtt: String
    @Option(help: "Concurrent users, comma-separated for several runs.") var users = "50,100,150,200"
    @Option(help: "Commands each user sends, one after another.") var repetitions = 1
    @Option(help: "GPIO devices the users' commands are spread over (one simulator process each).") var devices = 1
    @Option(help: "Database URL; a fresh SQLite file when omitted.") var database: String?
    @Option(help: "Write the figures as JSON to this file.") var json: String?
    @Flag(help: "Also run each round with Debian's siege and report its figures.") var siege = false

    func run() async throws {
        let userCounts = try users.split(separator: ",").map { text -> Int in
            guard let n = Int(text), (1...1000).contains(n) else { throw ValidationError("--users takes counts from 1 to 1000") }
            return n
        }
        guard (1...100).contains(devices), (1...1000).contains(repetitions) else { throw ValidationError("--devices from 1 to 100, --repetitions from 1 to 1000") }
        if siege, !Tools.isInstalled(Siege.path) { throw ValidationError("\(Siege.path) is missing: apt-get install siege (make bench installs it)") }
        try await withBenchDatabase(database) { url in
            var environment = try CommandEnvironment.bench(databaseURL: url, port: try freePort(), mqttURL: mqtt)
            let clientID = "cmc-bench-\(UUID().uuidString.prefix(8))"
            environment.configuration.mqttClientID = clientID
            let port = environment.configuration.port
            let options = self
            let prepared = environment
            try await withDiscardedSession(clientID, on: try MQTTEndpoint(url: mqtt)) {
                try await prepared.withDatabase { database in
                    let platform = try await prepared.platform(on: database)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        // The application runs the background services (the ingest, commands) too.
                        group.addTask { try await platform.application().run() }
                        defer { group.cancelAll() }
                        try await options.measure(platform, database: database, base: "http://127.0.0.1:\(port)", userCounts: userCounts)
                    }
                }
            }
        }
    }

    /// The figures of the intercom paper's table, for one round.
    struct Round: Encodable {
        let tool: String
        let n: Int  // concurrent users
        let x: Int  // transactions
        let y: Int  // failed transactions
        let successRate: Double  // %
        let AT: Double  // mean response time, s
        let SD: Double?  // its standard deviation, s (siege does not report it)
        let E: Double  // elapsed time, s
        let D: Double  // data transferred, MB
        let TR: Double  // transactions per second
        let TP: Double  // throughput, MB/s
        let LT: Double  // longest transaction, s
        let ST: Double  // shortest transaction, s
    }

    struct Report: Encodable {
        let rounds: [Round]
        let healthCeiling: [Wrk]
        let brokerMessagesPerSecond: Double
    }

    func measure(_ platform: Platform, database: any Database, base: String, userCounts: [Int]) async throws {
        let token = try await platform.authority.issue(kind: .microservice, subject: "bench-intercom", lifetime: .seconds(3600)).token
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        for _ in 0..<100 {
            if (try? await client.execute(HTTPClientRequest(url: base + "/health"), timeout: .seconds(1)))?.status == .ok { break }
            try await Task.sleep(for: .milliseconds(100))
        }

        // GPIO devices registered like any MQTT device: the API provisions their broker accounts.
        var simulators: [Process] = []
        defer { for process in simulators { process.terminate() } }
        let endpoint = try MQTTEndpoint(url: mqtt)
        var ids: [String] = []
        for index in 0..<devices {
            let id = "gpio-\(UUID().uuidString.prefix(6).lowercased())-\(index)"
            let password = try await register(id, client: client, base: base, token: token)
            simulators.append(try simulate(id, password: password, endpoint: endpoint))
            ids.append(id)
        }
        let gpios = ids
        for (id, simulator) in zip(ids, simulators) { try await awaitAnswer(from: id, simulator: simulator, client: client, base: base, token: token) }
        print("\(gpios.count) GPIO device(s) answering; \(database.dialect.rawValue) backend")

        var rounds: [Round] = []
        var ceilings: [Wrk] = []
        for n in userCounts {
            let health = try await transactions(n, base: base, token: token) { _ in (.GET, "/health", nil) }
            rounds.append(health.round("GET /health (same client)", users: n))
            let commands = try await transactions(n, base: base, token: token) { user in
                (.POST, "/devices/\(gpios[user % gpios.count])/commands?wait=true", #"{"name":"alarm","params":{"gpio":17,"seconds":5},"timeoutMs":10000}"#)
            }
            rounds.append(commands.round("cmc-bench commands", users: n))
            if siege {
                rounds.append(try await Siege.run(users: n, repetitions: repetitions, token: token,
                                                  url: "\(base)/devices/\(ids[0])/commands?wait=true",
                                                  body: #"{"name":"alarm","params":{"gpio":17,"seconds":5},"timeoutMs":10000}"#))
            }
            ceilings.append(try await Wrk.measure(base + "/health", connections: n))
            let settled = try await database.query("SELECT status, COUNT(*) AS n FROM device_commands WHERE name = 'alarm' GROUP BY status")
            let unacked = try settled.filter { try $0.string("status") != "acked" }.reduce(0) { $0 + Int(try $1.int("n")) }
            if unacked > 0 { print("  note: \(unacked) command(s) not acknowledged so far") }
        }
        // Two broker messages per command: the command down and its acknowledgement up.
        let broker = try await IngestBench.parse(["--mqtt", mqtt, "--readings", "20000", "--devices", "4"]).rawBroker(endpoint)

        print("")
        print("tool                          n      x     y  success    AT s    SD s     E s    D MB    TR/s  TP MB/s    LT s    ST s")
        for r in rounds {
            let sd = r.SD.map { String(format: "%7.4f", $0) } ?? "      -"
            print(r.tool.padded(26) + String(format: " %4d %6d %5d %7.2f%% %7.4f ", r.n, r.x, r.y, r.successRate, r.AT) + sd
                  + String(format: " %7.3f %7.3f %7.1f %8.3f %7.4f %7.4f", r.E, r.D, r.TR, r.TP, r.LT, r.ST))
        }
        print("")
        print("ceilings measured in this run:")
        for wrk in ceilings {
            print(String(format: "  wrk GET /health, %4d connections: %8.0f requests/s, mean %.2f ms, p99 %.2f ms, %d errors",
                         wrk.connections, wrk.requestsPerSecond, wrk.meanMs, wrk.p99Ms, wrk.errors))
        }
        print(String(format: "  broker alone (mosquitto_pub -> mosquitto_sub, QoS 1): %.0f messages/s = %.0f command round trips/s", broker, broker / 2))
        for (n, r) in zip(userCounts, rounds.filter { $0.tool == "cmc-bench commands" }) {
            let health = rounds.first { $0.tool.hasPrefix("GET /health") && $0.n == n }!
            print(String(format: "  %4d users: a command takes %.1fx a GET /health of the same shape; %.0f%% of the broker's round trips/s",
                         n, r.AT / max(health.AT, 1e-9), 100 * r.TR / max(broker / 2, 1)))
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(Report(rounds: rounds, healthCeiling: ceilings, brokerMessagesPerSecond: broker)).write(to: URL(fileURLWithPath: json))
            print("figures written to \(json)")
        }
    }

    func register(_ id: String, client: HTTPClient, base: String, token: String) async throws -> String {
        var request = HTTPClientRequest(url: base + "/devices")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"id":"\#(id)","category":"gpio","connector":"mqtt","nickname":"intercom door and alarm"}"#))
        let response = try await client.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let created = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        guard response.status == .created, let password = (created?["credentials"] as? [String: Any])?["password"] as? String else {
            throw ValidationError("registering \(id) answered \(response.status): \(String(buffer: body))")
        }
        return password
    }

    /// `cmc simulate device`, the `cmc` built beside this binary, as the device.
    func simulate(_ id: String, password: String, endpoint: MQTTEndpoint) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent().appendingPathComponent("cmc")
        // `--password=`: a generated password may begin with "-", which would read as an option.
        process.arguments = ["simulate", "device", "--id=\(id)", "--password=\(password)", "--mqtt", "mqtt://\(endpoint.host):\(endpoint.port)", "--count", "1"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Until the simulator has subscribed, commands expire unanswered.
    func awaitAnswer(from id: String, simulator: Process, client: HTTPClient, base: String, token: String) async throws {
        for _ in 0..<30 {
            guard simulator.isRunning else { throw ValidationError("the simulator of \(id) exited with status \(simulator.terminationStatus)") }
            let result = await Self.transaction(client, base: base, token: token, .POST, "/devices/\(id)/commands?wait=true", #"{"name":"ping","timeoutMs":1000}"#)
            if result.ok { return }
        }
        throw ValidationError("the simulator of \(id) does not answer commands")
    }

    struct Transactions {
        var times: [Double] = []
        var failures = 0
        var bytes = 0
        var elapsed = 0.0

        func round(_ tool: String, users: Int) -> Round {
            let count = times.count
            let mean = count == 0 ? 0 : times.reduce(0, +) / Double(count)
            let variance = count < 2 ? 0 : times.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count - 1)
            let megabytes = Double(bytes) / 1_048_576
            return Round(tool: tool, n: users, x: count, y: failures, successRate: count == 0 ? 0 : 100 * Double(count - failures) / Double(count),
                         AT: mean, SD: variance.squareRoot(), E: elapsed, D: megabytes, TR: Double(count) / elapsed, TP: megabytes / elapsed,
                         LT: times.max() ?? 0, ST: times.min() ?? 0)
        }
    }

    /// `users` clients start together, each on connections of its own as a browser or siege's
    /// users would, and send `repetitions` requests one after another.
    func transactions(_ users: Int, base: String, token: String,
                      _ request: @escaping @Sendable (Int) -> (HTTPMethod, String, String?)) async throws -> Transactions {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: users)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let repetitions = self.repetitions
        let start = ContinuousClock.now
        let results = await withTaskGroup(of: [(Double, Bool, Int)].self) { group in
            for user in 0..<users {
                group.addTask {
                    var results: [(Double, Bool, Int)] = []
                    for _ in 0..<repetitions {
                        let (method, path, body) = request(user)
                        results.append(await Self.transaction(client, base: base, token: token, method, path, body))
                    }
                    return results
                }
            }
            var all: [(Double, Bool, Int)] = []
            for await part in group { all += part }
            return all
        }
        let elapsed = (ContinuousClock.now - start).seconds
        try await client.shutdown()
        return Transactions(times: results.map(\.0), failures: results.count { !$0.1 }, bytes: results.reduce(0) { $0 + $1.2 }, elapsed: elapsed)
    }

    /// One request; a command counts as a success only when the device acknowledged it.
    static func transaction(_ client: HTTPClient, base: String, token: String, _ method: HTTPMethod, _ path: String, _ body: String?) async -> (Double, ok: Bool, Int) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let start = ContinuousClock.now
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let answer = try await response.body.collect(upTo: 1 << 20)
            let elapsed = (ContinuousClock.now - start).seconds
            let ok = response.status == .ok && (body == nil || String(buffer: answer).contains(#""status":"acked""#))
            return (elapsed, ok, answer.readableBytes)
        } catch {
            return ((ContinuousClock.now - start).seconds, false, 0)
        }
    }
}
