import ArgumentParser
import AsyncHTTPClient
import CMCCore
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
/// over HTTP on 127.0.0.1, beside the same client's rate on `GET /health` measured in the same run.
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
            var environment = try Environment(databaseURL: url)
            environment.configuration.port = try servePort ?? freePort()
            environment.configuration.coapPort = nil
            environment.configuration.mqttURL = nil
            environment.configuration.connectorsDirectory = nil
            // Cancelling the server at the end is the expected way out; nothing below critical is news here.
            environment.configuration.logLevel = .critical
            environment.logger.logLevel = .critical
            let port = environment.configuration.port
            let options = self
            try await environment.withPlatform { platform in
                try await options.measure(platform, port: port, userCounts: userCounts)
            }
        }
    }

    struct Run: Encodable {
        let workload: String
        let devices: Int
        let users: Int
        let requests: Int
        let failures: Int
        let meanMs, medianMs, p95Ms, p99Ms, maxMs: Double
        let requestsPerSecond: Double
        let processCPUCores: Double
        let peakMemoryMB: Double
        let patterns: Int
        let failureReasons: [String: Int]
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

    func measure(_ platform: Platform, port: Int, userCounts: [Int]) async throws {
        let multiplier = max(1, devices / BenchmarkCity.devicesPerUnit)
        var city = BenchmarkCity()
        let all = city.devices(multiplier: multiplier, owner: "bench")
        print("registering \(all.count) devices, each with a reading...")
        fflush(nil)
        let now = Timestamp.now()
        for chunk in stride(from: 0, to: all.count, by: 20_000) {
            let slice = Array(all[chunk..<min(chunk + 20_000, all.count)])
            try await platform.deviceRepository.insert(contentsOf: slice)
            _ = try await platform.readings.store(slice.map {
                Reading(device: $0.id, ts: now, category: $0.category, connector: $0.connector, values: ["value": .number(1)])
            })
        }

        if servePort != nil {
            print("serving \(all.count) devices on http://127.0.0.1:\(port)/ until stopped")
            fflush(nil)
            return try await platform.application().runService()
        }
        let server = Task { try await platform.application().run() }
        defer { server.cancel() }
        let base = "http://127.0.0.1:\(port)"
        try await drive(platform: platform, base: base, userCounts: userCounts, devices: all.count)
    }

    func drive(platform: Platform, base: String, userCounts: [Int], devices: Int) async throws {
        let probe = HTTPClient(eventLoopGroupProvider: .singleton)
        for _ in 0..<100 {
            if (try? await probe.execute(HTTPClientRequest(url: base + "/health"), timeout: .seconds(1)))?.status == .ok { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await probe.shutdown()

        var measurements: [Measurement] = []
        let deadline = maxSeconds > 0 ? Duration.milliseconds(Int64(maxSeconds * 1000)) : nil
        for userCount in userCounts {
            let requestsPerUser = iterations * 6
            let healthStart = ContinuousClock.now
            let health = try await load("GET /health (ceiling)", users: userCount, devices: devices) { _, client in
                var samples: [(Double, Bool)] = []
                for _ in 0..<requestsPerUser {
                    if let deadline, ContinuousClock.now - healthStart > deadline { break }
                    samples.append(await Self.get(client, base + "/health"))
                }
                return (samples, 0)
            }
            // wrk keeps one core for the server; beyond a thousand connections it measures itself.
            let wrk = try await Wrk.measure(base + "/health", connections: min(userCount, 1000))
            let storage = try await storageRate(platform, concurrency: min(userCount, 100))
            var random = SplitMix64(seed: 2019)
            let seeds = (0..<userCount).map { _ in random.next() }
            let iterations = self.iterations
            let start = ContinuousClock.now
            let pattern = try await load("CMC user pattern", users: userCount, devices: devices) { user, client in
                var generator = SplitMix64(seed: seeds[user])
                var samples: [(Double, Bool)] = []
                var patterns = 0
                for _ in 0..<iterations {
                    if let deadline, ContinuousClock.now - start > deadline { break }
                    samples += await Self.pattern(client, base, random: &generator)
                    patterns += 1
                }
                return (samples, patterns)
            }
            let measurement = Measurement(backend: platform.database.dialect.rawValue, devices: devices, users: userCount, health: health,
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
                         run.p95Ms, run.p99Ms, run.maxMs, run.requestsPerSecond, run.processCPUCores, run.peakMemoryMB))
        }
        print("(CPU: cores used by this process, server and load generator together; memory: the process's peak resident size)")
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
                        _ = try await platform.deviceRepository.list(DeviceFilter(category: category, near: (city.point(), radius), limit: 100))
                        done += 1
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(counts) / (ContinuousClock.now - start).seconds
    }

    /// Algorithm 1: a random point in the centre; parking within 500 m, one read; from it traffic
    /// (500 m), bus stops (200 m), bike docks (500 m) and car sharing (300 m), one read of each.
    static func pattern(_ client: HTTPClient, _ base: String, random: inout SplitMix64) async -> [(Double, Bool)] {
        var samples: [(Double, Bool)] = []
        let lat = BenchmarkCity.south + (BenchmarkCity.north - BenchmarkCity.south) * random.nextUnit()
        let lon = BenchmarkCity.west + (BenchmarkCity.east - BenchmarkCity.west) * random.nextUnit()
        let (parkings, sample) = await list(client, base, "parking", lat, lon, 500)
        samples.append(sample)
        guard !parkings.isEmpty else { return samples }
        let parking = parkings[Int(random.next() % UInt64(parkings.count))]
        samples.append(await get(client, "\(base)/history/\(parking.id)/latest"))
        for (category, radius) in [("traffic", 500.0), ("bus_stop", 200), ("bikesharing", 500), ("carsharing", 300)] {
            let (found, sample) = await list(client, base, category, parking.lat, parking.lon, radius)
            samples.append(sample)
            guard !found.isEmpty else { continue }
            samples.append(await get(client, "\(base)/history/\(found[Int(random.next() % UInt64(found.count))].id)/latest"))
        }
        return samples
    }

    static func list(_ client: HTTPClient, _ base: String, _ category: String, _ lat: Double, _ lon: Double, _ radius: Double)
        async -> ([(id: String, lat: Double, lon: Double)], (Double, Bool)) {
        let start = ContinuousClock.now
        do {
            let response = try await client.execute(HTTPClientRequest(url: "\(base)/devices?category=\(category)&near=\(lat),\(lon)&radius=\(Int(radius))"), timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 16 << 20)
            let elapsed = (ContinuousClock.now - start).seconds
            guard response.status == .ok else {
                FailureReasons.shared.count("HTTP \(response.status.code)")
                return ([], (elapsed, false))
            }
            // The load generator shares the machine with the server: read only what the next step needs.
            guard case .object(let page) = try JSONValue(parsing: body.readableBytesView), case .array(let devices)? = page["devices"] else {
                return ([], (elapsed, false))
            }
            let found = devices.compactMap { device -> (id: String, lat: Double, lon: Double)? in
                guard case .object(let fields) = device, case .string(let id)? = fields["id"], case .object(let location)? = fields["location"],
                      let lat = location["lat"]?.number, let lon = location["lon"]?.number else { return nil }
                return (id, lat, lon)
            }
            return (found, (elapsed, true))
        } catch {
            FailureReasons.shared.count("\(error)")
            return ([], ((ContinuousClock.now - start).seconds, false))
        }
    }

    static func get(_ client: HTTPClient, _ url: String) async -> (Double, Bool) {
        let start = ContinuousClock.now
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 16 << 20)
            if response.status != .ok { FailureReasons.shared.count("HTTP \(response.status.code)") }
            return ((ContinuousClock.now - start).seconds, response.status == .ok)
        } catch {
            FailureReasons.shared.count("\(error)")
            return ((ContinuousClock.now - start).seconds, false)
        }
    }

    /// Each run starts from cold: a client of its own, so its users connect as they start, one
    /// connection each, as a crowd of browsers would.
    func load(_ workload: String, users: Int, devices: Int,
              _ user: @escaping @Sendable (Int, HTTPClient) async -> ([(Double, Bool)], patterns: Int)) async throws -> Run {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: users)
        configuration.timeout.connect = .seconds(30)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        FailureReasons.shared.reset()
        let cpuBefore = processCPUSeconds()
        let start = ContinuousClock.now
        let (samples, patterns) = await withTaskGroup(of: ([(Double, Bool)], patterns: Int).self) { group in
            let rampUp = self.rampUp
            for index in 0..<users {
                group.addTask {
                    if rampUp > 0 { try? await Task.sleep(until: start + .milliseconds(Int64(Double(index) / rampUp * 1000)), clock: .continuous) }
                    return await user(index, client)
                }
            }
            var all: [(Double, Bool)] = []
            var patterns = 0
            for await part in group {
                all += part.0
                patterns += part.patterns
            }
            return (all, patterns)
        }
        let wall = (ContinuousClock.now - start).seconds
        try? await client.shutdown()
        let times = samples.map(\.0)
        let summary = Summary(times)
        return Run(workload: workload, devices: devices, users: users, requests: samples.count, failures: samples.count { !$0.1 },
                   meanMs: summary.mean * 1000, medianMs: summary.median * 1000, p95Ms: summary.p95 * 1000, p99Ms: summary.p99 * 1000,
                   maxMs: (times.max() ?? 0) * 1000, requestsPerSecond: Double(samples.count) / wall,
                   processCPUCores: (processCPUSeconds() - cpuBefore) / wall, peakMemoryMB: peakMemoryMB(), patterns: patterns,
                   failureReasons: FailureReasons.shared.reset())
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

/// Why requests failed, by kind, for the report.
final class FailureReasons: Sendable {
    static let shared = FailureReasons()
    private let counts = NIOLockedValueBox([String: Int]())

    func count(_ reason: String) { counts.withLockedValue { $0[reason, default: 0] += 1 } }

    @discardableResult
    func reset() -> [String: Int] { counts.withLockedValue { counts in defer { counts = [:] }; return counts } }
}
