import CMCCore
import CMCStorage
import NIOConcurrencyHelpers

/// Devices in SQLite; "near" queries are answered from a `DeviceGrid` in memory.
///
/// The embedded file has one writer, this process, so the grid can follow every committed write:
/// device writes and the grid's loading take turns behind `writes`, and each write reaches the grid
/// once it is committed, in commit order.
public final class SQLiteDeviceRepository: SQLDeviceRepository {
    let database: any Database
    /// Loaded by the first "near" query; nil until then.
    private let grid = NIOLockedValueBox<DeviceGrid?>(nil)
    private let writes = AsyncLock()

    public init(database: any Database) { self.database = database }

    public func insert(contentsOf devices: [Device]) async throws {
        try await writes.withLock {
            try await database.transaction { tx in
                for device in devices {
                    try await tx.query("INSERT INTO devices (\(Self.columns)) VALUES (\(Self.insertPlaceholders))", Self.binds(device))
                }
            }
            grid.withLockedValue { grid in
                for device in devices { grid?.put(Self.stored(device)) }
            }
        }
    }

    public func update(_ device: Device) async throws {
        try await writes.withLock {
            let rows = try await database.query("UPDATE devices SET \(Self.updateSet) WHERE id = $1 RETURNING \(Self.columns)", Self.binds(device))
            guard let row = rows.first else { return }
            let stored = try Self.decode(row)
            grid.withLockedValue { $0?.put(stored) }
        }
    }

    public func delete(id: String) async throws -> Bool {
        try await writes.withLock {
            guard try await database.query("DELETE FROM devices WHERE id = $1 RETURNING id", .text(id)).first != nil else { return false }
            grid.withLockedValue { $0?.remove(id: id) }
            return true
        }
    }

    /// From the grid when the device has a position: History asks for the device behind every
    /// latest-reading request, to check who may read it, and the grid answers without a trip to
    /// the database's threads. The grid follows each write once it is committed, before the
    /// write returns.
    public func find(id: String) async throws -> Device? {
        if let device = grid.withLockedValue({ $0?.device(id: id) }) { return device }
        return try await read(id: id)
    }

    /// What a read of the row would give: no credentials, no distance.
    static func stored(_ device: Device) -> Device {
        var device = device
        device.credentials = nil
        device.distance = nil
        return device
    }

    func listNear(_ filter: DeviceFilter, point: GeoPoint, radius: Double) async throws -> [Device] {
        try await loadGrid()
        // A snapshot, so queries run side by side without holding the lock; a write made while one
        // is out copies the grid's dictionaries and the cell it changes, never the devices.
        let snapshot = grid.withLockedValue { $0 }
        return snapshot?.near(filter, point: point, radius: radius) ?? []
    }

    /// Drops the per-category R*Trees (`device_locations_c<code>`) that versions before the grid
    /// created beside their categories: nothing reads them any more, and plain SQL in a migration
    /// cannot name them. Answers how many were dropped.
    @discardableResult
    public func dropRetiredTrees() async throws -> Int {
        let names = try await database.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'device\\_locations\\_c%' ESCAPE '\\' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
        ).map { try $0.string("name") }
        var dropped = 0
        for name in names where name.dropFirst("device_locations_c".count).allSatisfy(\.isNumber) {
            // Dropping the virtual table drops its _node, _rowid and _parent tables with it.
            try await writes.withLock { _ = try await database.query("DROP TABLE IF EXISTS \(name)") }
            dropped += 1
        }
        return dropped
    }

    /// Reads every positioned device once, a page at a time, with writes held off meanwhile; the
    /// first "near" query does it if nobody did before.
    public func loadGrid() async throws {
        if grid.withLockedValue({ $0 != nil }) { return }
        try await writes.withLock {
            if grid.withLockedValue({ $0 != nil }) { return }
            var loaded = DeviceGrid()
            var after: Int64 = 0
            while true {
                let rows = try await database.query(
                    "SELECT rid, \(Self.columns) FROM devices WHERE rid > $1 AND lat IS NOT NULL ORDER BY rid LIMIT 10000", .integer(after))
                guard let last = rows.last else { break }
                for row in rows { loaded.put(try Self.decode(row)) }
                after = try last.int("rid")
            }
            grid.withLockedValue { $0 = loaded }
        }
    }
}
