import Foundation
import Logging
import NIOCore
import NIOPosix
import Atomics
import SQLiteNIO

/// An embedded SQLite file in WAL mode: one writer connection behind a lock, several readers.
public final class SQLiteDatabase: Database {
    public let dialect = SQLDialect.sqlite
    public let path: String
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let writeLock = AsyncLock()
    private let nextReader = ManagedAtomic<Int>(0)

    private init(path: String, writer: SQLiteConnection, readers: [SQLiteConnection]) {
        self.path = path
        self.writer = writer
        self.readers = readers
    }

    public static func open(path: String, readers: Int = 4, threadPool: NIOThreadPool = .singleton, logger: Logger) async throws -> SQLiteDatabase {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        func connect() async throws -> SQLiteConnection {
            let connection = try await SQLiteConnection.open(storage: .file(path: path), threadPool: threadPool, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
            _ = try await connection.query("PRAGMA busy_timeout = 10000", [])
            _ = try await connection.query("PRAGMA foreign_keys = ON", [])
            // Index pages stay in memory (64 MiB a connection) and are read through mmap, not read(2).
            _ = try await connection.query("PRAGMA cache_size = -65536", [])
            _ = try await connection.query("PRAGMA mmap_size = 1073741824", [])
            return connection
        }
        let writer = try await connect()
        _ = try await writer.query("PRAGMA journal_mode = WAL", [])
        // FULL: a write acknowledged to a client survives a power cut, not only a crash.
        _ = try await writer.query("PRAGMA synchronous = FULL", [])
        var readerConnections: [SQLiteConnection] = []
        for _ in 0..<max(1, readers) { readerConnections.append(try await connect()) }
        return SQLiteDatabase(path: path, writer: writer, readers: readerConnections)
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let isRead = Self.isRead(sql)
        if isRead {
            let index = nextReader.loadThenWrappingIncrement(ordering: .relaxed) % readers.count
            return try await Self.run(readers[index], sql, binds)
        }
        return try await writeLock.withLock { try await Self.run(writer, sql, binds) }
    }

    public func transaction<Result: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> Result) async throws -> Result {
        try await writeLock.withLock {
            let executor = Executor(connection: writer)
            _ = try await Self.run(writer, "BEGIN IMMEDIATE", [])
            do {
                let result = try await body(executor)
                _ = try await Self.run(writer, "COMMIT", [])
                return result
            } catch {
                _ = try? await Self.run(writer, "ROLLBACK", [])
                throw error
            }
        }
    }

    public func run() async throws {
        // Embedded: nothing to serve; wait for the task to be cancelled.
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
    }

    public func close() async throws {
        for reader in readers { try? await reader.close() }
        try await writer.close()
    }

    struct Executor: SQLExecutor {
        let connection: SQLiteConnection
        var dialect: SQLDialect { .sqlite }
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            try await SQLiteDatabase.run(connection, sql, binds)
        }
    }

    static func isRead(_ sql: String) -> Bool {
        let head = sql.prefix(8).lowercased()
        return head.hasPrefix("select") || head.hasPrefix("with")
    }

    static func run(_ connection: SQLiteConnection, _ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let statement = numberedPlaceholders(sql)
        let data = binds.map(Self.data)
        return try await StorageMetrics.measure(.sqlite, sql) {
            let rows = try await connection.query(statement, data)
            guard let first = rows.first else { return [] }
            let columns = SQLColumns(first.columns.map(\.name))
            return rows.map { row in SQLRow(columns: columns, values: row.columns.map { Self.value($0.data) }) }
        }
    }

    /// `$1` (shared with PostgreSQL) becomes `?1`, SQLite's explicitly numbered parameter.
    static func numberedPlaceholders(_ sql: String) -> String {
        guard sql.contains("$") else { return sql }
        var out = ""
        out.reserveCapacity(sql.utf8.count)
        var previous: Character = " "
        var inString = false
        for character in sql {
            if character == "'" { inString.toggle() }
            if !inString, previous == "$", character.isNumber {
                out.removeLast()
                out.append("?")
            }
            out.append(character)
            previous = character
        }
        return out
    }

    static func data(_ value: SQLValue) -> SQLiteData {
        switch value {
        case .null: .null
        case .integer(let value): .integer(Int(value))
        case .real(let value): .float(value)
        case .text(let value): .text(value)
        case .bool(let value): .integer(value ? 1 : 0)
        case .blob(let bytes): .blob(ByteBuffer(bytes: bytes))
        }
    }

    static func value(_ data: SQLiteData) -> SQLValue {
        switch data {
        case .null: .null
        case .integer(let value): .integer(Int64(value))
        case .float(let value): .real(value)
        case .text(let value): .text(value)
        case .blob(let buffer): .blob(Array(buffer.readableBytesView))
        }
    }
}
