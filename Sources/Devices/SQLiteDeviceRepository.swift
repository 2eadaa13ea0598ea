import Foundation
import CMCCore
import NIOConcurrencyHelpers

/// Devices in SQLite; positions are indexed in an R*Tree whose first dimension is the category.
public final class SQLiteDeviceRepository: SQLDeviceRepository {
    let database: any Database
    private let categoryCodes = NIOLockedValueBox([String: Int64]())

    public init(database: any Database) { self.database = database }

    static let joinedColumns = columns.split(separator: ",").map { "d." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")

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
            let rows = try await tx.query("UPDATE devices SET \(Self.updateSet) WHERE id = $1 RETURNING rid", Self.binds(device))
            guard let rid = rows.first?.optionalInt("rid") else { return }
            try await tx.query("DELETE FROM device_locations WHERE rid = $1", .integer(rid))
            try await self.index(device, rid: rid, on: tx)
        }
    }

    public func delete(id: String) async throws -> Bool {
        try await database.transaction { tx in
            guard let rid = try await tx.query("DELETE FROM devices WHERE id = $1 RETURNING rid", .text(id)).first?.optionalInt("rid") else { return false }
            try await tx.query("DELETE FROM device_locations WHERE rid = $1", .integer(rid))
            return true
        }
    }

    func index(_ device: Device, rid: Int64, on tx: any SQLExecutor) async throws {
        guard let location = device.location else { return }
        let code = try await categoryCode(device.category, on: tx)
        try await tx.query(
            "INSERT INTO device_locations (rid, min_category, max_category, min_lat, max_lat, min_lon, max_lon) VALUES ($1, $2, $2, $3, $3, $4, $4)",
            .integer(rid), .integer(code), .real(location.lat), .real(location.lon)
        )
    }

    /// Small integers, exact in the R*Tree's 32-bit floats.
    func categoryCode(_ name: String, on executor: any SQLExecutor) async throws -> Int64 {
        if let code = categoryCodes.withLockedValue({ $0[name] }) { return code }
        try await executor.query("INSERT INTO device_categories (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", .text(name))
        return try await lookupCode(name, on: executor)!
    }

    func lookupCode(_ name: String, on executor: any SQLExecutor) async throws -> Int64? {
        if let code = categoryCodes.withLockedValue({ $0[name] }) { return code }
        guard let code = try await executor.query("SELECT code FROM device_categories WHERE name = $1", .text(name)).first?.optionalInt("code") else { return nil }
        categoryCodes.withLockedValue { $0[name] = code }
        return code
    }

    func listNear(_ filter: DeviceFilter, point: GeoPoint, radius: Double) async throws -> [Device] {
        let box = point.boundingBox(radius: radius)
        var conditions = Self.conditions(filter, prefix: "d.")
        if let category = filter.category {
            guard let code = try await lookupCode(category, on: database) else { return [] }
            let c = conditions.bind(.integer(code))
            conditions.add("g.min_category >= \(c) AND g.max_category <= \(c)")
        }
        conditions.add("g.max_lat", ">=", .real(box.minLat))
        conditions.add("g.min_lat", "<=", .real(box.maxLat))
        conditions.add("g.max_lon", ">=", .real(box.minLon))
        conditions.add("g.min_lon", "<=", .real(box.maxLon))
        let rows = try await database.query(
            "SELECT \(Self.joinedColumns) FROM device_locations g JOIN devices d ON d.rid = g.rid \(conditions.whereClause)",
            conditions.binds
        )
        return try Self.nearest(rows.map(Self.decode), to: point, radius: radius, after: filter.after, limit: filter.limit)
    }
}
