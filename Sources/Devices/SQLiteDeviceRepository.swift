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

    /// Nearest first, in two steps: pick the page from the R*Tree alone, searching a small box
    /// first and widening it until the page is full or the radius is reached; then read the full
    /// rows of just that page and settle exact distances.
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
            let search = try await candidates(filter, code: code, point: point, within: searched)
            // Candidates this close to the cursor may lie on either side of it; decide exactly later.
            let undecided = filter.after == nil ? 0 : search.candidates.count { $0.distance - search.slack <= floor }
            let sure = search.candidates.count { $0.distance + search.slack <= searched } - undecided
            if sure >= filter.limit || searched >= radius {
                let sorted = search.candidates.sorted { $0.distance < $1.distance }
                // Past the page's last candidate, keep those whose exact distance may still beat it.
                var take = min(undecided + filter.limit, sorted.count)
                if take > 0 {
                    let bound = sorted[take - 1].distance + 2 * search.slack
                    while take < sorted.count, sorted[take].distance <= bound { take += 1 }
                }
                return try await fullRows(Array(sorted.prefix(take)), point: point, radius: radius, filter: filter)
            }
            // Widen by the area that should hold a full page at the density seen so far.
            let factor = (Double(filter.limit) / Double(max(1, sure))).squareRoot() * 1.3
            searched = min(radius, searched * min(8, max(2, factor)))
        }
    }

    struct Candidate {
        let rid: Int64
        /// Exact, or within `slack` metres of it when read from the tree's 32-bit coordinates.
        let distance: Double
    }

    /// Float32 rounding of the tree's coordinates is under half a metre at any latitude.
    static let treeSlack = 2.0

    /// Without filters the tree's own coordinates are enough; with them, the auxiliary columns
    /// (exact position, owner, visibility) are read too.
    func candidates(_ filter: DeviceFilter, code: Int64?, point: GeoPoint, within radius: Double) async throws -> (candidates: [Candidate], slack: Double) {
        let box = point.boundingBox(radius: radius)
        // The category's own tree already holds only that category.
        var withoutCategory = filter
        withoutCategory.category = nil
        var conditions = Self.conditions(withoutCategory, prefix: "g.")
        let exact = !conditions.clauses.isEmpty
        let slack = exact ? 0 : Self.treeSlack
        conditions.add("g.max_lat", ">=", .real(box.minLat))
        conditions.add("g.min_lat", "<=", .real(box.maxLat))
        conditions.add("g.max_lon", ">=", .real(box.minLon))
        conditions.add("g.min_lon", "<=", .real(box.maxLon))
        let position = exact ? "g.lat AS lat, g.lon AS lon" : "(g.min_lat + g.max_lat) / 2 AS lat, (g.min_lon + g.max_lon) / 2 AS lon"
        let rows = try await database.query("SELECT g.rid, \(position) FROM \(Self.tree(code)) g \(conditions.whereClause)", conditions.binds)
        var floor = -Double.infinity
        if case .distance(let d, _) = filter.after { floor = d - slack }
        var out: [Candidate] = []
        out.reserveCapacity(rows.count)
        for row in rows {
            guard let lat = row.optionalDouble("lat"), let lon = row.optionalDouble("lon") else { continue }
            let distance = point.distance(to: try GeoPoint(lat: max(-90, min(90, lat)), lon: max(-180, min(180, lon))))
            guard distance - slack <= radius, distance >= floor else { continue }
            out.append(Candidate(rid: try row.int("rid"), distance: distance))
        }
        return (out, slack)
    }

    /// The page's rows, with exact distances, cut to the radius, the cursor and the limit.
    func fullRows(_ page: [Candidate], point: GeoPoint, radius: Double, filter: DeviceFilter) async throws -> [Device] {
        guard !page.isEmpty else { return [] }
        var conditions = SQLConditions()
        conditions.add("rid", in: page.map { .integer($0.rid) })
        let rows = try await database.query("SELECT \(Self.columns) FROM devices \(conditions.whereClause)", conditions.binds)
        return try Self.nearest(rows.map(Self.decode), to: point, radius: radius, after: filter.after, limit: filter.limit)
    }
}
