import CMCCore
import CMCStorage

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

    /// A nearest-neighbour scan of the GiST index (`<->`), stopped after a page and a margin:
    /// it reads about a page of rows however many devices lie within the radius.
    func listNear(_ filter: DeviceFilter, point: GeoPoint, radius: Double) async throws -> [Device] {
        var conditions = Self.conditions(filter, binds: [.real(point.lon), .real(point.lat)])
        let origin = "ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326)::geography"
        let distance = "ST_Distance(location, \(origin), false)"
        conditions.add("location IS NOT NULL")
        if case .distance(let d, let id) = filter.after {
            let dp = conditions.bind(.real(d))
            conditions.add("(\(distance) > \(dp) OR (\(distance) = \(dp) AND id > \(conditions.bind(.text(id)))))")
        }
        // `<->` and ST_Distance round differently in the last digits; the margin absorbs reordering.
        let scanned = conditions.bind(.integer(Int64(filter.limit + 16)))
        let within = conditions.bind(.real(radius))
        let limit = conditions.bind(.integer(Int64(filter.limit)))
        return try await database.query(
            prepared: """
            SELECT * FROM (
                SELECT \(Self.columns), \(distance) AS distance FROM devices \(conditions.whereClause)
                ORDER BY location <-> \(origin) LIMIT \(scanned)
            ) page WHERE distance <= \(within) ORDER BY distance, id LIMIT \(limit)
            """,
            conditions.binds
        ).map { row in
            var device = try Self.decode(row)
            device.distance = row.optionalDouble("distance")
            return device
        }
    }
}
