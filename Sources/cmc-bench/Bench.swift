import ArgumentParser
import Auth
import CMCCore
import CMCStorage
import Devices
import Foundation
import Hummingbird
import NIOCore
import NIOEmbedded
import Platform

/// Registers the CMC evaluation's device set and times "devices of a category near a point",
/// through the index and through a plain scan of the same rows, in the same run.
struct GeoBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "geo", abstract: "Time geo queries over the CMC evaluation's device set.")

    @Option(help: "Devices to register (a multiple of 440 is the CMC mix).") var devices = 440_000
    @Option(help: "Indexed queries to time.") var queries = 2000
    @Option(help: "Full-scan queries to time (they are slow).") var scans = 20
    @Option(help: "Database URL; a fresh SQLite file when omitted.") var database: String?
    @Option(help: "Devices per answer (the API's default page is 100).") var limit = 100

    func run() async throws {
        try await withBenchDatabase(database) { url in
            let environment = try CommandEnvironment(databaseURL: url)
            let options = self
            try await environment.withDatabase { database in
                try await options.measure(environment.platform(on: database), database: database)
            }
        }
    }

    func measure(_ platform: Platform, database: any Database) async throws {
        let multiplier = max(1, devices / BenchmarkCity.devicesPerUnit)
        var city = BenchmarkCity()
        let all = city.devices(multiplier: multiplier, owner: "bench")
        let existing = try await database.query("SELECT COUNT(*) AS n FROM devices").first?.int("n") ?? 0
        if existing == Int64(all.count) {
            print("backend \(database.dialect.rawValue): reusing the \(all.count) devices already registered")
        } else {
            guard existing == 0 else { throw ValidationError("the database holds \(existing) devices; give an empty one or one made by this benchmark") }
            print("backend \(database.dialect.rawValue): registering \(all.count) devices...")
            fflush(nil)
            let insertStart = ContinuousClock.now
            for chunk in stride(from: 0, to: all.count, by: 20_000) {
                try await platform.clients.devices.register( Array(all[chunk..<min(chunk + 20_000, all.count)]))
            }
            if database.dialect == .postgres { try await database.query("ANALYZE devices") }
            let insertSeconds = (ContinuousClock.now - insertStart).seconds
            print(String(format: "registered in %.1f s (%.0f devices/s)", insertSeconds, Double(all.count) / insertSeconds))
        }

        // The searches of the CMC user pattern: each category with its radius from Algorithm 1.
        var searches: [(String, GeoPoint, Double)] = []
        for index in 0..<max(queries, scans) {
            let (category, _, radius) = BenchmarkCity.unit[index % BenchmarkCity.unit.count]
            searches.append((category, city.point(), radius))
        }

        // The floor under every query: one trivial statement through the storage layer.
        var trivial: [Double] = []
        for _ in 0..<queries {
            let start = ContinuousClock.now
            try await database.query("SELECT 1 AS one")
            trivial.append((ContinuousClock.now - start).seconds)
        }

        var indexed: [Double] = []
        var found = 0
        for (category, point, radius) in searches.prefix(queries) {
            let start = ContinuousClock.now
            let result = try await platform.clients.devices.devices(DeviceFilter(category: category, near: (point, radius), limit: limit))
            indexed.append((ContinuousClock.now - start).seconds)
            found += result.count
        }

        var scanned: [Double] = []
        var mismatches = 0
        for (category, point, radius) in searches.prefix(scans) {
            let start = ContinuousClock.now
            let scan = try await scanNear(platform, database: database, category: category, point: point, radius: radius)
            scanned.append((ContinuousClock.now - start).seconds)
            let viaIndex = try await platform.clients.devices.devices(DeviceFilter(category: category, near: (point, radius), limit: limit))
            if scan.prefix(limit).map(\.id) != viaIndex.map(\.id) { mismatches += 1 }
        }

        // The whole route, router and JSON included, without the network.
        let token = try await platform.authority.issue(kind: .microservice, subject: "bench", lifetime: .seconds(3600))
        let responder = platform.router().buildResponder()
        // Thread-safe, unlike EmbeddedChannel: requests are answered on the cooperative pool.
        let channel = NIOAsyncTestingChannel()
        var routed: [Double] = []
        for (category, point, radius) in searches.prefix(queries) {
            let request = Request(
                head: .init(method: .get, scheme: "http", authority: "localhost",
                            path: "/devices?category=\(category)&near=\(point.lat),\(point.lon)&radius=\(Int(radius))&limit=\(limit)",
                            headerFields: [.authorization: "Bearer \(token.token)"]),
                body: .init(buffer: ByteBuffer())
            )
            let start = ContinuousClock.now
            let response = try await responder.respond(to: request, context: CMCRequestContext(source: .init(channel: channel, logger: environmentLogger)))
            try await response.body.write(DiscardingWriter())
            routed.append((ContinuousClock.now - start).seconds)
            guard response.status == .ok else { throw ValidationError("GET /devices answered \(response.status)") }
        }

        let table = [
            ("SELECT 1 (storage floor)", trivial), ("index: repository", indexed), ("index: GET /devices route", routed), ("full scan (baseline)", scanned),
        ]
        print("")
        print("query                         count   median ms   p95 ms   p99 ms   mean ms")
        for (name, samples) in table {
            let s = Summary(samples)
            print(name.padded(28) + String(format: " %6d %11.3f %8.3f %8.3f %9.3f", samples.count, s.median * 1000, s.p95 * 1000, s.p99 * 1000, s.mean * 1000))
        }
        let ratio = Summary(scanned).median / Summary(indexed).median
        print(String(format: "\nindexed median is %.0fx faster than the full scan; mean %.1f devices per answer (limit %d); %d/%d answers differ from the scan",
                     ratio, Double(found) / Double(max(1, indexed.count)), limit, mismatches, scanned.count))
    }

    var environmentLogger: Logger { Logger(label: "cmc.bench") }
}

extension CommandEnvironment {
    /// A platform for a benchmark: HTTP on 127.0.0.1:`port`, no CoAP, no polled sources, MQTT
    /// only when given; quiet, since cancelling the server at the end is the expected way out.
    static func bench(databaseURL: String, port: Int, mqttURL: String? = nil) throws -> CommandEnvironment {
        var environment = try CommandEnvironment(databaseURL: databaseURL)
        environment.configuration.port = port
        environment.configuration.coapPort = nil
        environment.configuration.coapsPort = nil
        environment.configuration.mqttURL = mqttURL
        environment.configuration.connectorsDirectory = nil
        environment.configuration.logLevel = .critical
        environment.logger.logLevel = .critical
        return environment
    }
}

/// Runs `body` on the given database URL, or on a fresh SQLite file removed afterwards.
func withBenchDatabase(_ database: String?, _ body: (String) async throws -> Void) async throws {
    if let database { return try await body(database) }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cmc-bench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    try await body("sqlite:\(directory.path)/bench.sqlite")
}

struct DiscardingWriter: ResponseBodyWriter {
    var bytes = 0
    mutating func write(_ buffer: ByteBuffer) async throws { bytes += buffer.readableBytes }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

extension String {
    /// Left-aligned in a column (Foundation's `%-20@` does not pad on Linux).
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

struct Summary {
    let median, p95, p99, mean: Double
    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        func at(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        median = at(0.5)
        p95 = at(0.95)
        p99 = at(0.99)
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

import Logging

extension GeoBench {
    /// The same answer as a `near` list, by reading every device of the category: the baseline the
    /// index is compared against.
    func scanNear(_ platform: Platform, database: any Database, category: String, point: GeoPoint, radius: Double) async throws -> [Device] {
        // Every row, no index: what a registry without a spatial index has to do.
        var matches: [(id: String, distance: Double)] = []
        for row in try await database.query("SELECT id, category, lat, lon FROM devices") {
            guard row.optionalString("category") == category, let lat = row.optionalDouble("lat"), let lon = row.optionalDouble("lon") else { continue }
            let distance = point.distance(to: try GeoPoint(lat: lat, lon: lon))
            if distance <= radius { matches.append((try row.string("id"), distance)) }
        }
        matches.sort { ($0.distance, $0.id) < ($1.distance, $1.id) }
        var devices: [Device] = []
        for match in matches {
            guard var device = try await platform.clients.devices.device(id: match.id) else { continue }
            device.distance = match.distance
            devices.append(device)
        }
        return devices
    }
}
