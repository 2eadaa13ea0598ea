import CMCCore
import CMCStorage
import Foundation
import Logging

/// The storage backends a contract test runs on: SQLite always, PostgreSQL when
/// `CMC_TEST_POSTGRES_URL` names a server (`make test` starts one and sets it).
public enum TestBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    public static var all: [TestBackend] {
        if postgresURL == nil, ProcessInfo.processInfo.environment["CMC_REQUIRE_POSTGRES"] == "1" {
            fatalError("CMC_REQUIRE_POSTGRES=1 but CMC_TEST_POSTGRES_URL is not set")
        }
        return postgresURL == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    static var postgresURL: String? {
        ProcessInfo.processInfo.environment["CMC_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The repository's `migrations/`, found from this file's path.
    public static let migrationsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("migrations")

    public static var logger: Logger {
        var logger = Logger(label: "cmc.test")
        logger.logLevel = .error
        return logger
    }

    /// A fresh, empty database: a new SQLite file, or a new PostgreSQL schema dropped afterwards.
    /// The database runs (its pool is served) for the duration of `body`.
    public func withDatabase<Result: Sendable>(_ body: @Sendable (any Database) async throws -> Result) async throws -> Result {
        try await withDatabase { database, _ in try await body(database) }
    }

    /// The same, with the URL that opens it from another process (`cmc serve --database`).
    public func withDatabase<Result: Sendable>(_ body: @Sendable (any Database, String) async throws -> Result) async throws -> Result {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cmc-test-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = directory.appendingPathComponent("cmc.sqlite").path
            let database = try await SQLiteDatabase.open(path: path)
            defer { Task { try? await database.close() } }
            return try await body(database, "sqlite:" + path)
        case .postgres:
            guard let url = Self.postgresURL else { throw StorageError.unsupportedURL("CMC_TEST_POSTGRES_URL is not set") }
            let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
            let admin = try PostgresDatabase(url: url, logger: Self.logger)
            let separator = url.contains("?") ? "&" : "?"
            let schemaURL = url + separator + "search_path=\(schema),public"
            let database = try PostgresDatabase(url: schemaURL, logger: Self.logger)
            return try await Self.running(admin) {
                try await admin.query("CREATE SCHEMA \(schema)")
                do {
                    let result = try await Self.running(database) { try await body(database, schemaURL) }
                    try await admin.query("DROP SCHEMA \(schema) CASCADE")
                    return result
                } catch {
                    _ = try? await admin.query("DROP SCHEMA \(schema) CASCADE")
                    throw error
                }
            }
        }
    }

    /// Serves the database's pool while `body` runs.
    public static func running<Result: Sendable>(_ database: any Database, _ body: @Sendable () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await database.run() }
            defer { group.cancelAll() }
            return try await body()
        }
    }
}
