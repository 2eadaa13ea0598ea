import CMCCore
import NIOConcurrencyHelpers

/// Devices in SQLite; positions are indexed in R*Trees: one over all devices and one per category.
///
/// A category is a separate tree rather than a third R*Tree dimension: with the category as a
/// dimension the tree's splits mix categories and a small box query walks hundreds of nodes.
public final class SQLiteDeviceRepository: SQLDeviceRepository {
    let database: any Database
    private let categoryCodes = NIOLockedValueBox([String: Int64]())

    public init(database: any Database) { self.database = database }

    public func insert(_ device: Device) async throws {
        do {
            try await insert(contentsOf: [device])
        } catch {
            try await duplicateCheck(device, error)
        }
    }

    public func insert(contentsOf devices: [Device]) async throws {
        try await database.transaction { tx in
            for device in devices {
                let rows = try await tx.query("INSERT INTO devices (\(Self.columns)) VALUES (\(Self.insertPlaceholders)) RETURNING rid", Self.binds(device))
                try await self.index(device, rid: try rows[0].int("rid"), on: tx)
            }
        }
    }

    public func update(_ device: Device) async throws {
        try await database.transaction { tx in
            guard let old = try await tx.query("SELECT rid, category FROM devices WHERE id = $1", .text(device.id)).first else { return }
            let rid = try old.int("rid")
            try await self.unindex(rid: rid, category: try old.string("category"), on: tx)
            try await tx.query("UPDATE devices SET \(Self.updateSet) WHERE id = $1", Self.binds(device))
            try await self.index(device, rid: rid, on: tx)
        }
    }

    public func delete(id: String) async throws -> Bool {
        try await database.transaction { tx in
            guard let row = try await tx.query("DELETE FROM devices WHERE id = $1 RETURNING rid, category", .text(id)).first else { return false }
            try await self.unindex(rid: try row.int("rid"), category: try row.string("category"), on: tx)
            return true
        }
    }

    static let treeColumns = "rid, min_lat, max_lat, min_lon, max_lon, id, lat, lon, connector, owner_id, is_public"

    static func tree(_ code: Int64?) -> String { code.map { "device_locations_c\($0)" } ?? "device_locations" }

    func index(_ device: Device, rid: Int64, on tx: any SQLExecutor) async throws {
        guard let location = device.location else { return }
        let code = try await categoryCode(device.category, on: tx)
        for tree in [Self.tree(nil), Self.tree(code)] {
            try await tx.query(
                "INSERT INTO \(tree) (\(Self.treeColumns)) VALUES ($1, $2, $2, $3, $3, $4, $2, $3, $5, $6, $7)",
                .integer(rid), .real(location.lat), .real(location.lon), .text(device.id), .text(device.connector),
                .text(device.ownerID), .bool(device.public)
            )
        }
    }

    func unindex(rid: Int64, category: String, on tx: any SQLExecutor) async throws {
        try await tx.query("DELETE FROM \(Self.tree(nil)) WHERE rid = $1", .integer(rid))
        if let code = try await tx.query("SELECT code FROM device_categories WHERE name = $1", .text(category)).first?.optionalInt("code") {
            try await tx.query("DELETE FROM \(Self.tree(code)) WHERE rid = $1", .integer(rid))
        }
    }

    /// The category's code, creating the category and its tree inside the caller's transaction.
    /// Only committed codes are cached (by `lookupCode`), so a rolled-back category is not remembered.
    func categoryCode(_ name: String, on tx: any SQLExecutor) async throws -> Int64 {
        if let code = categoryCodes.withLockedValue({ $0[name] }) { return code }
        if let code = try await tx.query("SELECT code FROM device_categories WHERE name = $1", .text(name)).first?.optionalInt("code") { return code }
        let code = try await tx.query("INSERT INTO device_categories (name) VALUES ($1) RETURNING code", .text(name))[0].int("code")
        try await tx.query("CREATE VIRTUAL TABLE \(Self.tree(code)) USING rtree(rid, min_lat, max_lat, min_lon, max_lon, +id, +lat, +lon, +connector, +owner_id, +is_public)")
        return code
    }

    func lookupCode(_ name: String) async throws -> Int64? {
        if let code = categoryCodes.withLockedValue({ $0[name] }) { return code }
        guard let code = try await database.query("SELECT code FROM device_categories WHERE name = $1", .text(name)).first?.optionalInt("code") else { return nil }
        categoryCodes.withLockedValue { $0[name] = code }
        return code
    }

    /// Nearest first, in two steps: find the page's devices from the R*Tree using only ids and
    /// positions, searching a small box first and widening it until the page is full or the radius
    /// is reached; then read the full rows of just that page.
    func listNear(_ filter: DeviceFilter, point: GeoPoint, radius: Double) async throws -> [Device] {
        var code: Int64?
        if let category = filter.category {
            guard let found = try await lookupCode(category) else { return [] }
            code = found
        }
        var floor = 0.0
        if case .distance(let d, _) = filter.after { floor = d }
        var searched = min(radius, max(floor * 1.25, radius / 4, 1))
        while true {
            let candidates = try await candidates(filter, code: code, point: point, within: searched)
            if candidates.count >= filter.limit || searched >= radius {
                let page = Array(candidates.sorted { ($0.distance, $0.id) < ($1.distance, $1.id) }.prefix(filter.limit))
                return try await fullRows(page)
            }
            // Widen by the area that should hold a full page at the density seen so far.
            let factor = (Double(filter.limit) / Double(max(1, candidates.count))).squareRoot() * 1.3
            searched = min(radius, searched * min(8, max(2, factor)))
        }
    }

    struct Candidate {
        let rid: Int64
        let id: String
        let distance: Double
    }

    func candidates(_ filter: DeviceFilter, code: Int64?, point: GeoPoint, within radius: Double) async throws -> [Candidate] {
        let box = point.boundingBox(radius: radius)
        // The category's own tree already holds only that category.
        var withoutCategory = filter
        withoutCategory.category = nil
        var conditions = Self.conditions(withoutCategory, prefix: "g.")
        conditions.add("g.max_lat", ">=", .real(box.minLat))
        conditions.add("g.min_lat", "<=", .real(box.maxLat))
        conditions.add("g.max_lon", ">=", .real(box.minLon))
        conditions.add("g.min_lon", "<=", .real(box.maxLon))
        let rows = try await database.query(
            "SELECT g.rid, g.id, g.lat, g.lon FROM \(Self.tree(code)) g \(conditions.whereClause)",
            conditions.binds
        )
        var out: [Candidate] = []
        out.reserveCapacity(rows.count)
        for row in rows {
            guard let lat = row.optionalDouble("lat"), let lon = row.optionalDouble("lon") else { continue }
            let distance = point.distance(to: try GeoPoint(lat: lat, lon: lon))
            let id = try row.string("id")
            guard distance <= radius else { continue }
            if case .distance(let d, let afterID) = filter.after, distance < d || (distance == d && id <= afterID) { continue }
            out.append(Candidate(rid: try row.int("rid"), id: id, distance: distance))
        }
        return out
    }

    func fullRows(_ page: [Candidate]) async throws -> [Device] {
        guard !page.isEmpty else { return [] }
        var conditions = SQLConditions()
        conditions.add("rid", in: page.map { .integer($0.rid) })
        let rows = try await database.query("SELECT rid, \(Self.columns) FROM devices \(conditions.whereClause)", conditions.binds)
        var byRID: [Int64: Device] = [:]
        for row in rows { byRID[try row.int("rid")] = try Self.decode(row) }
        return page.compactMap { candidate in
            guard var device = byRID[candidate.rid] else { return nil }
            device.distance = candidate.distance
            return device
        }
    }
}
