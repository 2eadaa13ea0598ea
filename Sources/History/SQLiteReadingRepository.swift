import CMCCore
import CMCStorage

/// Readings in SQLite: a table clustered on (device, time), so one device's range is one index scan.
/// The process serving the file is its only writer, so it keeps the latest readings it was asked
/// for in memory (`LatestReadings`).
public struct SQLiteReadingRepository: SQLReadingRepository {
    let database: any Database
    let latestReadings: LatestReadings

    /// About 200 MB when full.
    public static let defaultCachedDevices = 500_000

    /// `cachedDevices`: how many devices' latest readings are kept in memory (a few hundred bytes each).
    public init(database: any Database, cachedDevices: Int = defaultCachedDevices) {
        self.database = database
        self.latestReadings = LatestReadings(capacity: cachedDevices)
    }

    func numericField(_ placeholder: String) -> String {
        "CASE WHEN json_type(payload, \(placeholder)) IN ('integer', 'real') THEN CAST(json_extract(payload, \(placeholder)) AS REAL) END"
    }

    func fieldBind(_ field: String) -> SQLValue { .text("$.\"\(field)\"") }

    func prepareStore(_ readings: [Reading]) async throws {}

    public func store(_ readings: [Reading]) async throws -> Int {
        // Also when the store fails: it may have failed after its commit.
        defer { latestReadings.invalidate(readings.lazy.map(\.device)) }
        return try await insert(readings)
    }

    public func forget(device: String) async throws {
        defer { latestReadings.invalidate(CollectionOfOne(device)) }
        try await deleteReadings(device: device)
    }

    public func latest(device: String) async throws -> Reading? {
        let (cached, generation) = latestReadings.lookup(device)
        if let cached { return cached }
        let reading = try await selectLatest(device: device)
        latestReadings.fill([device: reading], since: generation)
        return reading
    }

    public func latest(devices: [String]) async throws -> [String: Reading] {
        let (known, missing, generation) = latestReadings.lookup(devices)
        let found = known.compactMapValues { $0 }
        guard !missing.isEmpty else { return found }
        let read = try await selectLatest(devices: missing)
        latestReadings.fill(Dictionary(missing.map { ($0, read[$0]) }, uniquingKeysWith: { first, _ in first }), since: generation)
        return found.merging(read) { _, new in new }
    }
}
