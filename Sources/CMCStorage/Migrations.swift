import CMCCore
import Foundation
import Logging

/// Applies the numbered SQL files of `migrations/<dialect>/` in order, each in its own transaction,
/// recording every applied version in `schema_migrations`.
public struct Migrations: Sendable {
    public struct File: Sendable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    public let files: [File]

    public init(directory: URL, dialect: SQLDialect) throws {
        let folder = directory.appendingPathComponent(dialect.rawValue)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
        var files: [File] = []
        for name in names {
            guard let version = Int(name.prefix { $0.isNumber }) else {
                throw StorageError.migration("\(name) does not start with a version number")
            }
            let sql = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            files.append(File(version: version, name: name, sql: sql))
        }
        files.sort { $0.version < $1.version }
        for (a, b) in zip(files, files.dropFirst()) where a.version == b.version {
            throw StorageError.migration("\(a.name) and \(b.name) share version \(a.version)")
        }
        self.files = files
    }

    /// Finds `migrations/` from `CMC_MIGRATIONS_DIR`, the working directory, or beside the executable.
    public static func locateDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        var candidates: [URL] = []
        if let configured = environment["CMC_MIGRATIONS_DIR"] { candidates.append(URL(fileURLWithPath: configured)) }
        candidates += ProjectFolder.candidates("migrations")
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("sqlite").path) {
            return candidate
        }
        throw StorageError.migration("no migrations directory found; set CMC_MIGRATIONS_DIR")
    }

    /// Returns the versions applied by this call.
    @discardableResult
    public func apply(to database: any Database, logger: Logger) async throws -> [Int] {
        try await database.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at BIGINT NOT NULL
            )
            """)
        var applied: [Int] = []
        for file in files {
            let didApply = try await database.transaction { tx -> Bool in
                if tx.dialect == .postgres {
                    // Several processes may start together; one migrates, the others wait and skip.
                    try await tx.query("SELECT pg_advisory_xact_lock(7358221)")
                }
                let done = try await tx.query("SELECT version FROM schema_migrations WHERE version = $1", .integer(Int64(file.version)))
                guard done.isEmpty else { return false }
                try await tx.executeScript(file.sql)
                try await tx.query(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    .integer(Int64(file.version)), .text(file.name), .integer(Timestamp.now().microseconds)
                )
                return true
            }
            if didApply {
                logger.info("applied migration", metadata: ["version": "\(file.version)", "name": "\(file.name)"])
                applied.append(file.version)
            }
        }
        return applied
    }
}
