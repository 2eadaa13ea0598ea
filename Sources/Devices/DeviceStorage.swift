import CMCCore
import CMCStorage

/// The registry's storage on a database's backend.
public enum DeviceStorage {
    /// Ready for queries: on SQLite the grid that answers "near" is loaded now rather than by the
    /// first request, which would wait for it.
    public static func open(on database: any Database) async throws -> any DeviceRepository {
        switch database.dialect {
        case .sqlite:
            let devices = SQLiteDeviceRepository(database: database)
            try await devices.dropRetiredTrees()
            try await devices.loadGrid()
            return devices
        case .postgres:
            return PostgresDeviceRepository(database: database)
        }
    }
}
