import Foundation
import Logging
import NIOCore
import NIOPosix
import Atomics
import NIOConcurrencyHelpers

/// An embedded SQLite file in WAL mode: one writer connection behind a lock, several readers.
///
/// Single-statement writes that arrive while another is being committed are committed together,
/// in one transaction and one fsync (group commit); each caller still hears of its own statement
/// only once that transaction is durable.
public final class SQLiteDatabase: Database {
    public let dialect = SQLDialect.sqlite
    public let path: String
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let writeLock = AsyncLock()
    private let nextReader = ManagedAtomic<Int>(0)
    private let pendingWrites = NIOLockedValueBox<[PendingWrite]>([])

    private init(path: String, writer: SQLiteConnection, readers: [SQLiteConnection]) {
        self.path = path
        self.writer = writer
        self.readers = readers
    }

    public static func open(path: String, readers: Int = 4, threadPool: NIOThreadPool = .singleton) async throws -> SQLiteDatabase {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        func connect() async throws -> SQLiteConnection {
            let connection = try await SQLiteConnection.open(path: path, threadPool: threadPool)
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
        let write = PendingWrite(sql: sql, binds: binds)
        pendingWrites.withLockedValue { $0.append(write) }
        return try await writeLock.withLock {
            // Committed by the holder before us, with its own write: nothing left to do.
            if let result = write.result { return try result.get() }
            let batch = pendingWrites.withLockedValue { pending in
                defer { pending = [] }
                return pending
            }
            await commit(batch)
            return try write.result!.get()
        }
    }

    /// Writes queued while the writer was busy, each with its outcome once its transaction ended.
    /// Only the holder of `writeLock` touches `result`.
    private final class PendingWrite: @unchecked Sendable {
        let sql: String
        let binds: [SQLValue]
        var result: Result<[SQLRow], any Error>?

        init(sql: String, binds: [SQLValue]) {
            self.sql = sql
            self.binds = binds
        }
    }

    /// Runs the batch in as few transactions as its failures allow: a failing statement ends its
    /// transaction (SQLite may have rolled the whole of it back), the statements before it are
    /// committed, and the rest go on in the next one.
    private func commit(_ batch: [PendingWrite]) async {
        guard batch.count > 1 else {
            for write in batch {
                do { write.result = .success(try await Self.run(writer, write.sql, write.binds)) } catch { write.result = .failure(error) }
            }
            return
        }
        var next = batch[...]
        while !next.isEmpty {
            var done: [PendingWrite] = []
            do {
                _ = try await Self.run(writer, "BEGIN IMMEDIATE", [])
            } catch {
                for write in next { write.result = .failure(error) }
                return
            }
            while let write = next.popFirst() {
                do {
                    write.result = .success(try await Self.run(writer, write.sql, write.binds))
                    done.append(write)
                } catch {
                    write.result = .failure(error)
                    break
                }
            }
            do {
                _ = try await Self.run(writer, "COMMIT", [])
            } catch {
                _ = try? await Self.run(writer, "ROLLBACK", [])
                for write in done { write.result = .failure(error) }
            }
        }
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
        return try await StorageMetrics.measure(.sqlite, sql) { try await connection.query(statement, binds) }
    }

    /// `$1` (shared with PostgreSQL) becomes `?1`, SQLite's explicitly numbered parameter.
    /// Statements repeat, so conversions are remembered (a few hundred distinct texts at most).
    static func numberedPlaceholders(_ sql: String) -> String {
        guard sql.utf8.contains(UInt8(ascii: "$")) else { return sql }
        if let known = converted.withLockedValue({ $0[sql] }) { return known }
        var out = Array(sql.utf8)
        var inString = false
        for position in out.indices {
            let byte = out[position]
            if byte == UInt8(ascii: "'") { inString.toggle() }
            if !inString, byte == UInt8(ascii: "$"), position + 1 < out.count,
               out[position + 1] >= UInt8(ascii: "0"), out[position + 1] <= UInt8(ascii: "9") {
                out[position] = UInt8(ascii: "?")
            }
        }
        let result = String(decoding: out, as: UTF8.self)
        converted.withLockedValue { cache in
            if cache.count >= 1024 { cache.removeAll() }
            cache[sql] = result
        }
        return result
    }

    private static let converted = NIOLockedValueBox([String: String]())
}
