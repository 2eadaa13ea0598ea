import CMCCore

/// Devices in PostgreSQL; positions are PostGIS geography points under a GiST index.
public struct PostgresDeviceRepository: SQLDeviceRepository {
    let database: any Database

    public init(database: any Database) { self.database = database }

    /// Spherical, as `GeoPoint.distance`, so both backends give the same metres.
    static let point = "CASE WHEN $8::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint($9::float8, $8::float8), 4326)::geography END"

    public func insert(contentsOf devices: [Device]) async throws {
        try await database.transaction { tx in
            for device in devices {
                try await tx.query("INSERT INTO devices (\(Self.columns), location) VALUES (\(Self.insertPlaceholders), \(Self.point))", Self.binds(device))
            }
        }
    }

    public func update(_ device: Device) async throws {
        try await database.query("UPDATE devices SET \(Self.updateSet), location = \(Self.point) WHERE id = $1", Self.binds(device))
    }

    public func delete(id: String) async throws -> Bool {
        !(try await database.query("DELETE FROM devices WHERE id = $1 RETURNING id", .text(id))).isEmpty
    }

    func listNear(_ filter: DeviceFilter, point: GeoPoint, radius: Double) async throws -> [Device] {
        var conditions = Self.conditions(filter, binds: [.real(point.lon), .real(point.lat), .real(radius)])
        let origin = "ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326)::geography"
        let distance = "ST_Distance(location, \(origin), false)"
        conditions.add("ST_DWithin(location, \(origin), $3::float8, false)")
        if case .distance(let d, let id) = filter.after {
            let dp = conditions.bind(.real(d))
            conditions.add("(\(distance) > \(dp) OR (\(distance) = \(dp) AND id > \(conditions.bind(.text(id)))))")
        }
        let limit = conditions.bind(.integer(Int64(filter.limit)))
        return try await database.query(
            "SELECT \(Self.columns), \(distance) AS distance FROM devices \(conditions.whereClause) ORDER BY distance, id LIMIT \(limit)",
            conditions.binds
        ).map { row in
            var device = try Self.decode(row)
            device.distance = row.optionalDouble("distance")
            return device
        }
    }
}
