import CMCCore
import CMCStorage
import Events

/// What `GET /devices` asks for.
public struct DeviceFilter: Sendable {
    public var category: String?
    public var connector: String?
    public var near: (point: GeoPoint, radius: Double)?
    /// Devices inside a box, in id order: what a map in view shows.
    public var box: GeoBox?
    /// Only devices this user owns or that are public; nil for callers who see everything.
    public var visibleTo: String?
    public var limit: Int
    public var after: DeviceCursor?

    public init(category: String? = nil, connector: String? = nil, near: (point: GeoPoint, radius: Double)? = nil,
                visibleTo: String? = nil, limit: Int = 100, after: DeviceCursor? = nil) {
        self.category = category
        self.connector = connector
        self.near = near
        self.visibleTo = visibleTo
        self.limit = limit
        self.after = after
    }
}

/// Where the previous page ended: by id, or by distance then id for `near` queries.
public enum DeviceCursor: Sendable, Equatable {
    case id(String)
    case distance(Double, String)
}

/// The Devices service's tables.
public protocol DeviceRepository: Sendable {
    func insert(_ device: Device) async throws
    /// Registers many devices in one transaction (feeds, imports, benchmarks).
    func insert(contentsOf devices: [Device]) async throws
    func find(id: String) async throws -> Device?
    func list(_ filter: DeviceFilter) async throws -> [Device]
    func update(_ device: Device) async throws
    func delete(id: String) async throws -> Bool
}

/// SQL the two backends share; each adds its spatial index.
protocol SQLDeviceRepository: DeviceRepository {
    var database: any Database { get }
    func listNear(_ filter: DeviceFilter, point: GeoPoint, radius: Double) async throws -> [Device]
}

extension SQLDeviceRepository {
    static var columns: String { "id, owner_id, category, connector, nickname, is_public, metadata, lat, lon, created_at, updated_at" }

    public func find(id: String) async throws -> Device? { try await read(id: id) }

    /// The device's row, whatever else the backend keeps.
    func read(id: String) async throws -> Device? {
        try await database.query(prepared: "SELECT \(Self.columns) FROM devices WHERE id = $1", .text(id)).first.map(Self.decode)
    }

    public func list(_ filter: DeviceFilter) async throws -> [Device] {
        if let near = filter.near { return try await listNear(filter, point: near.point, radius: near.radius) }
        var conditions = Self.conditions(filter)
        if case .id(let id) = filter.after { conditions.add("id", ">", .text(id)) }
        let limit = conditions.bind(.integer(Int64(filter.limit)))
        // One text per combination of filters: prepared.
        return try await database.query(
            prepared: "SELECT \(Self.columns) FROM devices \(conditions.whereClause) ORDER BY id LIMIT \(limit)",
            conditions.binds
        ).map(Self.decode)
    }

    /// Filters other than position, shared by both backends' list queries.
    static func conditions(_ filter: DeviceFilter, binds: [SQLValue] = []) -> SQLConditions {
        var conditions = SQLConditions(binds: binds)
        if let category = filter.category { conditions.add("category", "=", .text(category)) }
        if let connector = filter.connector { conditions.add("connector", "=", .text(connector)) }
        if let box = filter.box {
            // Walked in id order and filtered: a map's box usually holds most of what is walked.
            conditions.add("lat", ">=", .real(box.minLat))
            conditions.add("lat", "<=", .real(box.maxLat))
            conditions.add("lon", ">=", .real(box.minLon))
            conditions.add("lon", "<=", .real(box.maxLon))
        }
        if let user = filter.visibleTo {
            conditions.add("(is_public = \(conditions.bind(.bool(true))) OR owner_id = \(conditions.bind(.text(user))))")
        }
        return conditions
    }

    static func decode(_ row: SQLRow) throws -> Device {
        var location: GeoPoint?
        if let lat = row.optionalDouble("lat"), let lon = row.optionalDouble("lon") { location = try GeoPoint(lat: lat, lon: lon) }
        return Device(
            id: try row.string("id"), category: try row.string("category"), connector: try row.string("connector"),
            location: location, nickname: row.optionalString("nickname"), public: row.bool("is_public"),
            metadata: JSONValue.decodeObject(try row.string("metadata")), ownerID: try row.string("owner_id"),
            createdAt: Timestamp(microseconds: try row.int("created_at")), updatedAt: Timestamp(microseconds: try row.int("updated_at"))
        )
    }

    /// Binds for the shared columns in `columns` order.
    static func binds(_ device: Device) -> [SQLValue] {
        [.text(device.id), .text(device.ownerID), .text(device.category), .text(device.connector), .optional(device.nickname),
         .bool(device.public), .text(JSONValue.encodeObject(device.metadata)), .optional(device.location?.lat),
         .optional(device.location?.lon), .integer(device.createdAt.microseconds), .integer(device.updatedAt.microseconds)]
    }

    static var insertPlaceholders: String { "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11" }

    static var updateSet: String {
        "category = $3, connector = $4, nickname = $5, is_public = $6, metadata = $7, lat = $8, lon = $9, updated_at = $11"
    }

    public func insert(_ device: Device) async throws {
        do {
            try await insert(contentsOf: [device])
        } catch {
            try await duplicateCheck(device, error)
        }
    }

    func duplicateCheck(_ device: Device, _ error: any Error) async throws -> Never {
        if error is APIError { throw error }
        if try await find(id: device.id) != nil { throw APIError.conflict("a device with id \(device.id) already exists") }
        throw error
    }
}
