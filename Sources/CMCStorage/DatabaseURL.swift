import Foundation
import Logging

/// Opens the backend a URL names: `sqlite:./data/cmc.sqlite` or `postgres://...`.
public enum DatabaseURL {
    public static func open(_ url: String, logger: Logger) async throws -> any Database {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try PostgresDatabase(url: url, logger: logger)
        }
        if let path = sqlitePath(url) { return try await SQLiteDatabase.open(path: path) }
        throw StorageError.unsupportedURL(url)
    }

    /// The file of a `sqlite:` URL.
    public static func sqlitePath(_ url: String) -> String? {
        guard url.hasPrefix("sqlite:") else { return nil }
        var path = String(url.dropFirst("sqlite:".count))
        if path.hasPrefix("//") { path.removeFirst(2) }
        return path
    }
}
