import CMCCore
import CMCStorage

/// History's storage on a database's backend.
public enum ReadingStorage {
    /// `latestInMemory`: on SQLite, how many devices' latest readings are kept in memory.
    public static func open(on database: any Database, latestInMemory: Int = SQLiteReadingRepository.defaultCachedDevices) -> any ReadingRepository {
        switch database.dialect {
        case .sqlite: SQLiteReadingRepository(database: database, cachedDevices: latestInMemory)
        case .postgres: PostgresReadingRepository(database: database)
        }
    }
}
