import ArgumentParser
import AsyncHTTPClient
import CMCCore
import CMCStorage
import Devices
import Foundation
import History
import Logging
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Platform

/// The multimobility user pattern of the CMC-IoT evaluation (Lai et al., ICSOFT 2019, Algorithm 1)
/// over HTTP on 127.0.0.1, its users in a process of their own (`cmc-bench users`), beside the
/// ceilings measured in the same run: `GET /health` from the same users, from wrk, and the
/// pattern's geo queries straight on storage.
struct PatternBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pattern", abstract: "Replay the CMC-IoT multimobility user pattern.")

    @Option(help: "Devices (a multiple of 440 keeps the CMC mix).") var devices = 440
    @Option(help: "Concurrent users, comma-separated for several runs.") var users = "10,100"
    @Option(help: "Times each user runs the pattern.") var iterations = 50
    @Option(help: "Database URL; a fresh SQLite file when omitted.") var database: String?
    @Option(help: "Seconds after which a run's users start no new pattern (0: no limit).") var maxSeconds = 0.0
    @Option(help: "Users started per second, as load tools ramp up (0: all at once).") var rampUp = 0.0
    @Option(help: "Write the figures as JSON to this file.") var json: String?
    @Option(help: "Only serve the device set on this port until stopped, for another load tool (bench/jmeter/).") var servePort: Int?

    func run() async throws {
        let userCounts = try users.split(separator: ",").map { text -> Int in
            guard let n = Int(text), n > 0, n <= 10_000 else { throw ValidationError("--users takes counts from 1 to 10000") }
            return n
        }
        try await withBenchDatabase(database) { url in
            let environment = try CommandEnvironment.bench(databaseURL: url, port: try servePort ?? freePort())
            let port = environment.configuration.port
            let options = self
            try await environment.withDatabase { database in
                try await options.measure(environment.platform(on: database), database: database, port: port, userCounts: userCounts)
            }
        }
    }

    /// What the users measured, with what the server used meanwhile; one flat JSON object.
    @dynamicMemberLookup
    struct Run: Encodable {
        let workload: String
        let devices: Int
        let users: Int
        let load: UserLoad.Result
        /// Of the server process alone: the users run in a process of their own.
        let serverCPUCores: Double
        let serverPeakMemoryMB: Double

        subscript<Value>(dynamicMember field: KeyPath<UserLoad.Result, Value>) -> Value { load[keyPath: field] }

        enum CodingKeys: String, CodingKey { case workload, devices, users, serverCPUCores, serverPeakMemoryMB }
        func encode(to encoder: any Encoder) throws {
            try load.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(workload, forKey: .workload)
            try c.encode(devices, forKey: .devices)
            try c.encode(users, forKey: .users)
            try c.encode(serverCPUCores, forKey: .serverCPUCores)
            try c.encode(serverPeakMemoryMB, forKey: .serverPeakMemoryMB)
        }
    }

    /// A pattern run beside the ceilings measured just before it.
    struct Measurement: Encodable {
        let backend: String
        let devices: Int
        let users: Int
        let health: Run  // GET /health from the same client, same users
        let pattern: Run
        let wrkHealth: Wrk  // GET /health from wrk, a process of its own
        let storageGeoQueriesPerSecond: Double  // the pattern's geo queries straight on the repository
        var patternToHealth: Double { pattern.requestsPerSecond / max(health.requestsPerSecond, 1) }
        var patternToWrk: Double { pattern.requestsPerSecond / max(wrkHealth.requestsPerSecond, 1) }

        enum CodingKeys: String, CodingKey { case backend, devices, users, health, pattern, wrkHealth, storageGeoQueriesPerSecond, patternToHealth, patternToWrk }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(backend, forKey: .backend)
            try c.encode(devices, forKey: .devices)
            try c.encode(users, forKey: .users)
            try c.encode(health, forKey: .health)
            try c.encode(pattern, forKey: .pattern)
            try c.encode(wrkHealth, forKey: .wrkHealth)
            try c.encode(storageGeoQueriesPerSecond, forKey: .storageGeoQueriesPerSecond)
            try c.encode(patternToHealth, forKey: .patternToHealth)
            try c.encode(patternToWrk, forKey: .patternToWrk)
        }
    }

    func measure(_ platform: Platform, database: any Database, port: Int, userCounts: [Int]) async throws {
        let multiplier = max(1, devices / BenchmarkCity.devicesPerUnit)
        var city = BenchmarkCity()
        let all = city.devices(multiplier: multiplier, owner: "bench")
        print("registering \(all.count) devices, each with a reading...")
        fflush(nil)
        let now = Timestamp.now()
        for chunk in stride(from: 0, to: all.count, by: 20_000) {
            let slice = Array(all[chunk..<min(chunk + 20_000, all.count)])
            try await platform.clients.devices.register( slice)
            _ = try await platform.clients.history.record(slice.map {
                Reading(device: $0.id, ts: now, category: $0.category, connector: $0.connector, values: ["value": .number(1)])
            })
        }
        // As after any bulk load: without statistics PostgreSQL plans the first queries for empty
        // tables, until autovacuum gets to them.
        if database.dialect == .postgres { try await database.query("ANALYZE") }

        if servePort != nil {
            print("serving \(all.count) devices on http://127.0.0.1:\(port)/ until stopped")
            fflush(nil)
            return try await platform.application().runService()
        }
        let server = Task { try await platform.application().run() }
        defer { server.cancel() }
        let base = "http://127.0.0.1:\(port)"
        try await drive(platform: platform, backend: database.dialect, base: base, userCounts: userCounts, devices: all.count)
    }

    func drive(platform: Platform, backend: SQLDialect, base: String, userCounts: [Int], devices: Int) async throws {
        let probe = HTTPClient(eventLoopGroupProvider: .singleton)
        for _ in 0..<100 {
            if (try? await probe.execute(HTTPClientRequest(url: base + "/health"), timeout: .seconds(1)))?.status == .ok { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await probe.shutdown()

        var measurements: [Measurement] = []
        for userCount in userCounts {
            let health = try await users(.health, userCount, base: base, workload: "GET /health (ceiling)", devices: devices)
            // wrk keeps one core for the server; beyond a thousand connections it measures itself.
            let wrk = try await Wrk.measure(base + "/health", connections: min(userCount, 1000))
            let storage = try await storageRate(platform, concurrency: min(userCount, 100))
            let pattern = try await users(.pattern, userCount, base: base, workload: "CMC user pattern", devices: devices)
            let measurement = Measurement(backend: backend.rawValue, devices: devices, users: userCount, health: health,
                                          pattern: pattern, wrkHealth: wrk, storageGeoQueriesPerSecond: storage)
            measurements.append(measurement)
            print(String(format: "  %d users: pattern %.0f requests/s = %.2f of GET /health from the same client (%.0f/s), %.2f of wrk's (%.0f/s); storage alone %.0f geo queries/s",
                         userCount, pattern.requestsPerSecond, measurement.patternToHealth, health.requestsPerSecond,
                         measurement.patternToWrk, wrk.requestsPerSecond, storage))
            if pattern.patterns < userCount * iterations {
                print("  (time bound: \(pattern.patterns) of \(userCount * iterations) patterns run)")
            }
            fflush(nil)
        }

        print("")
        print("workload                 devices  users  requests  failures  mean ms  median ms  p95 ms  p99 ms  max ms  req/s   CPU  peak MB")
        for run in measurements.flatMap({ [$0.health, $0.pattern] }) {
            print(run.workload.padded(24) + String(format: " %7d %6d %9d %9d %8.2f %10.2f %7.2f %7.2f %7.1f %6.0f %5.2f %8.0f",
                         run.devices, run.users, run.requests, run.failures, run.meanMs, run.medianMs,
                         run.p95Ms, run.p99Ms, run.maxMs, run.requestsPerSecond, run.serverCPUCores, run.serverPeakMemoryMB))
        }
        print("(CPU: cores the server used, of this machine's \(ProcessInfo.processInfo.activeProcessorCount); memory: the server's peak resident size; the users ran in a process of their own)")
        for run in measurements.flatMap({ [$0.health, $0.pattern] }) where !run.failureReasons.isEmpty {
            let reasons = run.failureReasons.sorted { $0.value > $1.value }.prefix(3).map { "\($0.value)× \($0.key)" }
            print("failures of \(run.workload), \(run.users) users: \(reasons.joined(separator: "; "))")
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(measurements).write(to: URL(fileURLWithPath: json))
            print("figures written to \(json)")
        }
    }

    /// One run of `cmc-bench users` (this binary) against the server in this process.
    func users(_ kind: UserLoad.Workload, _ count: Int, base: String, workload: String, devices: Int) async throws -> Run {
        let cpuBefore = processCPUSeconds()
        let start = ContinuousClock.now
        let output = try await Tools.output(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), [
            "users", "--base", base, "--workload", kind.rawValue, "--users", "\(count)", "--iterations", "\(iterations)",
            "--max-seconds", "\(maxSeconds)", "--ramp-up", "\(rampUp)", "--min-seconds", kind == .health ? "2" : "0",
        ])
        let wall = (ContinuousClock.now - start).seconds
        let result = try JSONDecoder().decode(UserLoad.Result.self, from: Data(output.utf8))
        return Run(workload: workload, devices: devices, users: count, load: result,
                   serverCPUCores: (processCPUSeconds() - cpuBefore) / wall, serverPeakMemoryMB: peakMemoryMB())
    }

    /// The pattern's geo queries ("category near the point within r") straight on the repository,
    /// `concurrency` at a time for two seconds: what storage allows before HTTP and JSON.
    func storageRate(_ platform: Platform, concurrency: Int) async throws -> Double {
        let start = ContinuousClock.now
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var city = BenchmarkCity(seed: UInt64(worker) &+ 7)
                    var done = 0
                    while ContinuousClock.now - start < .seconds(2) {
                        let (category, _, radius) = BenchmarkCity.unit[done % BenchmarkCity.unit.count]
                        _ = try await platform.clients.devices.devices(DeviceFilter(category: category, near: (city.point(), radius), limit: 100))
                        done += 1
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(counts) / (ContinuousClock.now - start).seconds
    }

}

func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func peakMemoryMB() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// A port of 127.0.0.1 nothing listens on now.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { throw ValidationError("no free port") }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

