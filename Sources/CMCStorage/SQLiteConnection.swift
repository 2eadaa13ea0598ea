import NIOConcurrencyHelpers
import NIOPosix
import CSQLite

/// One connection to an SQLite file that keeps its statements prepared.
///
/// The services send the same few dozen short statements over and over; parsing and planning one
/// cost more than running it. SQLiteNIO prepares each anew and keeps its handle to itself, so
/// this talks to Debian's SQLite library (libsqlite3, through `CSQLite`) directly: the one copy
/// of SQLite in the process, whose file locks stay coherent between all of its connections.
final class SQLiteConnection: @unchecked Sendable {
    /// Nil once closed. `handle` and `statements` are only touched with `lock` held, on a thread
    /// of `threadPool`: SQLite's calls block.
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    private let lock = NIOLock()
    private let threadPool: NIOThreadPool

    /// Statements kept per connection; past this (SQL built with a varying number of values),
    /// all are dropped and prepared again as they come.
    static let statementLimit = 256

    private init(handle: OpaquePointer, threadPool: NIOThreadPool) {
        self.handle = handle
        self.threadPool = threadPool
    }

    /// Once per process, before the first connection: after that SQLite refuses to be configured.
    private static let configured: Void = { _ = cmc_sqlite3_stop_counting_memory() }()

    static func open(path: String, threadPool: NIOThreadPool) async throws -> SQLiteConnection {
        try await threadPool.runIfActive {
            Self.configured
            var handle: OpaquePointer?
            // NOMUTEX: `lock` already serializes each connection's use.
            let status = sqlite3_open_v2(path, &handle, SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nil)
            guard status == SQLITE_OK, let handle else {
                let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
                sqlite3_close(handle)
                throw SQLiteFailure(code: status, message: "cannot open \(path): \(message)")
            }
            return SQLiteConnection(handle: handle, threadPool: threadPool)
        }
    }

    /// Runs one statement to its end and answers its rows.
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await threadPool.runIfActive { try self.lock.withLock { try self.run(sql, binds) } }
    }

    func close() async throws {
        try await threadPool.runIfActive {
            self.lock.withLock {
                self.finalizeStatements()
                sqlite3_close_v2(self.handle)
                self.handle = nil
            }
        }
    }

    private func run(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        guard let handle else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "the connection is closed") }
        // Only comments and spaces: nothing to run.
        guard let statement = try prepared(sql, on: handle) else { return [] }
        // Reset at once: a statement left open would hold its read transaction (and checkpoints) back.
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (offset, value) in binds.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let value): status = sqlite3_bind_int64(statement, index, value)
            case .real(let value): status = sqlite3_bind_double(statement, index, value)
            case .bool(let value): status = sqlite3_bind_int64(statement, index, value ? 1 : 0)
            case .text(let value):
                status = sqlite3_bind_text64(statement, index, value, UInt64(value.utf8.count), Self.transient, UInt8(SQLITE_UTF8))
            case .blob(let bytes):
                // An empty buffer may have no address, which SQLite would bind as NULL.
                status = bytes.isEmpty
                    ? sqlite3_bind_zeroblob(statement, index, 0)
                    : bytes.withUnsafeBytes { sqlite3_bind_blob64(statement, index, $0.baseAddress, UInt64($0.count), Self.transient) }
            }
            guard status == SQLITE_OK else { throw failure(status, handle) }
        }
        var rows: [SQLRow] = []
        var columns: SQLColumns?
        while true {
            let status = sqlite3_step(statement)
            guard status == SQLITE_ROW else {
                guard status == SQLITE_DONE else { throw failure(status, handle) }
                return rows
            }
            let count = sqlite3_column_count(statement)
            if columns == nil {
                columns = SQLColumns((0..<count).map { String(cString: sqlite3_column_name(statement, $0)) })
            }
            rows.append(SQLRow(columns: columns!, values: (0..<count).map { Self.value(statement, $0) }))
        }
    }

    private func prepared(_ sql: String, on handle: OpaquePointer) throws -> OpaquePointer? {
        if let statement = statements[sql] { return statement }
        if statements.count >= Self.statementLimit { finalizeStatements() }
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK else { throw failure(status, handle) }
        if let statement { statements[sql] = statement }
        return statement
    }

    private func finalizeStatements() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
    }

    private static func value(_ statement: OpaquePointer, _ column: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT:
            return .real(sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            // The text first, then its length: that order keeps SQLite from converting twice.
            guard let text = sqlite3_column_text(statement, column) else { return .text("") }
            let count = Int(sqlite3_column_bytes(statement, column))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            guard let blob = sqlite3_column_blob(statement, column) else { return .blob([]) }
            let count = Int(sqlite3_column_bytes(statement, column))
            return .blob(Array(UnsafeRawBufferPointer(start: blob, count: count)))
        default:
            return .null
        }
    }

    private func failure(_ status: Int32, _ handle: OpaquePointer) -> SQLiteFailure {
        SQLiteFailure(code: status, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// SQLite copies the value before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// An SQLite error: its extended result code and message.
public struct SQLiteFailure: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String

    public var description: String { "SQLite error \(code): \(message)" }
}
