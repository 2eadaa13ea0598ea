import ArgumentParser
import AsyncHTTPClient
import CMCCore
import Devices
import Foundation
import History
import Logging
import Hummingbird
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
    @Option(help: "Write the figures as JSON to this file.") var json: String?

    func run() async throws {
        let userCounts = try users.split(separator: ",").map { text -> Int in
            guard let n = Int(text), n > 0, n <= 10_000 else { throw ValidationError("--users takes counts from 1 to 10000") }
            return n
        }
        try await withBenchDatabase(database) { url in
            var environment = try Environment(databaseURL: url)
            environment.configuration.port = try freePort()
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

        let server = Task { try await platform.application().run() }
        defer { server.cancel() }
        let base = "http://127.0.0.1:\(port)"
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: userCounts.max()!)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        do {
            try await drive(client, base: base, userCounts: userCounts, devices: all.count)
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    func drive(_ client: HTTPClient, base: String, userCounts: [Int], devices: Int) async throws {        for _ in 0..<100 {
            if (try? await client.execute(HTTPClientRequest(url: base + "/health"), timeout: .seconds(1)))?.status == .ok { break }
            try await Task.sleep(for: .milliseconds(100))
        }

        var runs: [Run] = []
        for userCount in userCounts {
            let requestsPerUser = iterations * 6
            runs.append(try await load("GET /health (ceiling)", users: userCount, devices: devices) { _ in
                var samples: [(Double, Bool)] = []
                for _ in 0..<requestsPerUser { samples.append(await Self.get(client, base + "/health")) }
                return samples
            })
            var random = SplitMix64(seed: 2019)
            let seeds = (0..<userCount).map { _ in random.next() }
            runs.append(try await load("CMC user pattern", users: userCount, devices: devices) { user in
                var generator = SplitMix64(seed: seeds[user])
                var samples: [(Double, Bool)] = []
                for _ in 0..<iterations { samples += await Self.pattern(client, base, random: &generator) }
                return samples
            })
            let ceiling = runs[runs.count - 2].requestsPerSecond, pattern = runs[runs.count - 1].requestsPerSecond
            print(String(format: "  %d users: pattern %.0f requests/s = %.2f of the /health ceiling", userCount, pattern, pattern / max(ceiling, 1)))
        }

        print("")
        print("workload                 devices  users  requests  failures  mean ms  median ms  p95 ms  p99 ms  max ms  req/s   CPU  peak MB")
        for run in runs {
            print(String(format: "%-24@ %7d %6d %9d %9d %8.2f %10.2f %7.2f %7.2f %7.1f %6.0f %5.2f %8.0f",
                         run.workload as NSString, run.devices, run.users, run.requests, run.failures, run.meanMs, run.medianMs,
                         run.p95Ms, run.p99Ms, run.maxMs, run.requestsPerSecond, run.processCPUCores, run.peakMemoryMB))
        }
        print("(CPU: cores used by this process, server and load generator together; memory: the process's peak resident size)")
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(runs).write(to: URL(fileURLWithPath: json))
            print("figures written to \(json)")
        }
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

    struct Found: Decodable {
        struct Item: Decodable {
            struct Point: Decodable { let lat: Double; let lon: Double }
            let id: String
            let location: Point
        }
        let devices: [Item]
    }

    static func list(_ client: HTTPClient, _ base: String, _ category: String, _ lat: Double, _ lon: Double, _ radius: Double)
        async -> ([(id: String, lat: Double, lon: Double)], (Double, Bool)) {
        let start = ContinuousClock.now
        do {
            let response = try await client.execute(HTTPClientRequest(url: "\(base)/devices?category=\(category)&near=\(lat),\(lon)&radius=\(Int(radius))"), timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 16 << 20)
            let elapsed = (ContinuousClock.now - start).seconds
            guard response.status == .ok else { return ([], (elapsed, false)) }
            let found = try JSONDecoder().decode(Found.self, from: Data(body.readableBytesView))
            return (found.devices.map { ($0.id, $0.location.lat, $0.location.lon) }, (elapsed, true))
        } catch {
            return ([], ((ContinuousClock.now - start).seconds, false))
        }
    }

    static func get(_ client: HTTPClient, _ url: String) async -> (Double, Bool) {
        let start = ContinuousClock.now
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 16 << 20)
            return ((ContinuousClock.now - start).seconds, response.status == .ok)
        } catch {
            return ((ContinuousClock.now - start).seconds, false)
        }
    }

    func load(_ workload: String, users: Int, devices: Int, _ user: @escaping @Sendable (Int) async -> [(Double, Bool)]) async throws -> Run {
        let cpuBefore = processCPUSeconds()
        let start = ContinuousClock.now
        let samples = await withTaskGroup(of: [(Double, Bool)].self) { group in
            for index in 0..<users { group.addTask { await user(index) } }
            var all: [(Double, Bool)] = []
            for await part in group { all += part }
            return all
        }
        let wall = (ContinuousClock.now - start).seconds
        let times = samples.map(\.0)
        let summary = Summary(times)
        return Run(workload: workload, devices: devices, users: users, requests: samples.count, failures: samples.count { !$0.1 },
                   meanMs: summary.mean * 1000, medianMs: summary.median * 1000, p95Ms: summary.p95 * 1000, p99Ms: summary.p99 * 1000,
                   maxMs: (times.max() ?? 0) * 1000, requestsPerSecond: Double(samples.count) / wall,
                   processCPUCores: (processCPUSeconds() - cpuBefore) / wall, peakMemoryMB: peakMemoryMB())
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
