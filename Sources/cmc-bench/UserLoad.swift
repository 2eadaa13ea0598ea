import ArgumentParser
import AsyncHTTPClient
import CMCCore
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Platform

/// The users of `cmc-bench pattern`, in a process of their own (as JMeter or a crowd of browsers
/// would be): the server's CPU and memory are then the server's alone, and neither side shares
/// the other's descriptors. Prints one `UserLoad.Result` as JSON.
struct UserLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "users", abstract: "The load generator of `cmc-bench pattern`.", shouldDisplay: false)

    enum Workload: String, ExpressibleByArgument { case health, pattern }

    @Option(help: "The platform's base URL.") var base: String
    @Option(help: "health: GET /health; pattern: the CMC user pattern.") var workload: Workload
    @Option(help: "Concurrent users.") var users: Int
    @Option(help: "Patterns per user (health: six requests per pattern).") var iterations = 50
    @Option(help: "Seconds after which users start nothing new (0: no limit).") var maxSeconds = 0.0
    @Option(help: "Users started per second (0: all at once).") var rampUp = 0.0
    @Option(help: "health: seconds the users keep asking at least, past their requests (a ceiling measured in a third of a second says more about that moment than about the machine).")
    var minSeconds = 0.0

    struct Result: Codable {
        let requests: Int
        let failures: Int
        let meanMs, medianMs, p95Ms, p99Ms, maxMs: Double
        let requestsPerSecond: Double
        let seconds: Double
        let patterns: Int
        let failureReasons: [String: Int]
        let loadGeneratorCPUCores: Double
    }

    func run() async throws {
        let deadline = maxSeconds > 0 ? Duration.milliseconds(Int64(maxSeconds * 1000)) : nil
        let minimum = Duration.milliseconds(Int64(minSeconds * 1000))
        let (base, iterations) = (self.base, self.iterations)
        var random = SplitMix64(seed: 2019)
        let seeds = (0..<users).map { _ in random.next() }
        let result: Result
        switch workload {
        case .health:
            result = try await load { _, client, start in
                var samples: [(Double, Bool)] = []
                while samples.count < iterations * 6 || ContinuousClock.now - start < minimum {
                    if let deadline, ContinuousClock.now - start > deadline { break }
                    samples.append(await Self.get(client, base + "/health"))
                }
                return (samples, 0)
            }
        case .pattern:
            result = try await load { user, client, start in
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
        }
        print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
    }

    /// Starts from cold: users connect as they start, one connection each.
    func load(_ user: @escaping @Sendable (Int, HTTPClient, ContinuousClock.Instant) async -> ([(Double, Bool)], patterns: Int)) async throws -> Result {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: users)
        configuration.timeout.connect = .seconds(30)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let cpuBefore = processCPUSeconds()
        let start = ContinuousClock.now
        let (samples, patterns) = await withTaskGroup(of: ([(Double, Bool)], patterns: Int).self) { group in
            let rampUp = self.rampUp
            for index in 0..<users {
                group.addTask {
                    if rampUp > 0 { try? await Task.sleep(until: start + .milliseconds(Int64(Double(index) / rampUp * 1000)), clock: .continuous) }
                    return await user(index, client, start)
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
        return Result(requests: samples.count, failures: samples.count { !$0.1 },
                      meanMs: summary.mean * 1000, medianMs: summary.median * 1000, p95Ms: summary.p95 * 1000, p99Ms: summary.p99 * 1000,
                      maxMs: (times.max() ?? 0) * 1000, requestsPerSecond: Double(samples.count) / wall, seconds: wall, patterns: patterns,
                      failureReasons: FailureReasons.shared.reset(), loadGeneratorCPUCores: (processCPUSeconds() - cpuBefore) / wall)
    }

    /// Algorithm 1: a random point in the centre; parking within 500 m, one read; from it traffic
    /// (500 m), bus stops (200 m), bike docks (500 m) and car sharing (300 m), one read of each.
    static func pattern(_ client: HTTPClient, _ base: String, random: inout SplitMix64) async -> [(Double, Bool)] {
        var samples: [(Double, Bool)] = []
        let lat = BenchmarkCity.south + (BenchmarkCity.north - BenchmarkCity.south) * random.nextUnit()
        let lon = BenchmarkCity.west + (BenchmarkCity.east - BenchmarkCity.west) * random.nextUnit()
        let (parking, sample) = await list(client, base, "parking", lat, lon, 500, random: &random)
        samples.append(sample)
        guard let parking else { return samples }
        samples.append(await get(client, "\(base)/history/\(parking.id)/latest"))
        for (category, radius) in [("traffic", 500.0), ("bus_stop", 200), ("bikesharing", 500), ("carsharing", 300)] {
            let (found, sample) = await list(client, base, category, parking.lat, parking.lon, radius, random: &random)
            samples.append(sample)
            guard let found else { continue }
            samples.append(await get(client, "\(base)/history/\(found.id)/latest"))
        }
        return samples
    }

    /// Lists a category near a point and picks one of the devices answered at random.
    static func list(_ client: HTTPClient, _ base: String, _ category: String, _ lat: Double, _ lon: Double, _ radius: Double,
                     random: inout SplitMix64) async -> ((id: String, lat: Double, lon: Double)?, (Double, Bool)) {
        let start = ContinuousClock.now
        do {
            let response = try await client.execute(HTTPClientRequest(url: "\(base)/devices?category=\(category)&near=\(lat),\(lon)&radius=\(Int(radius))"), timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 16 << 20)
            let elapsed = (ContinuousClock.now - start).seconds
            guard response.status == .ok else {
                FailureReasons.shared.count("HTTP \(response.status.code)")
                return (nil, (elapsed, false))
            }
            // The load generator shares the machine with the server: the whole answer is checked,
            // but only the device picked is read into values.
            let picked = try JSONValue.element(ofArray: "devices", in: body.readableBytesView) { count in Int(random.next() % UInt64(count)) }
            guard let picked else { return (nil, (elapsed, true)) }
            guard case .object(let fields) = picked, case .string(let id)? = fields["id"], case .object(let location)? = fields["location"],
                  let lat = location["lat"]?.number, let lon = location["lon"]?.number else {
                FailureReasons.shared.count("a device without id or location")
                return (nil, (elapsed, false))
            }
            return ((id, lat, lon), (elapsed, true))
        } catch {
            FailureReasons.shared.count("\(error)")
            return (nil, ((ContinuousClock.now - start).seconds, false))
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

}

/// Why requests failed, by kind, for the report.
final class FailureReasons: Sendable {
    static let shared = FailureReasons()
    private let counts = NIOLockedValueBox([String: Int]())

    func count(_ reason: String) { counts.withLockedValue { $0[reason, default: 0] += 1 } }

    @discardableResult
    func reset() -> [String: Int] { counts.withLockedValue { counts in defer { counts = [:] }; return counts } }
}
