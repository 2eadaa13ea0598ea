import Foundation
import Logging

/// Opens the backend a URL names: `sqlite:./data/cmc.sqlite` or `postgres://...`.
public enum DatabaseURL {
    public static func open(_ url: String, logger: Logger) async throws -> any Database {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return PostgresDatabase(configuration: try PostgresDatabase.configuration(url: url), logger: logger)
        }
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            return try await SQLiteDatabase.open(path: path, logger: logger)
        }
        throw StorageError.unsupportedURL(url)
    }
}
