import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// PostgreSQL (with PostGIS) through a PostgresNIO connection pool.
public final class PostgresDatabase: Database {
    public let dialect = SQLDialect.postgres
    public let client: PostgresClient
    /// Whether the hot statements are prepared on each connection; off for a pooler that hands
    /// one session's statements to another (PgBouncer in transaction mode before 1.21).
    let preparesStatements: Bool
    let logger: Logger

    public init(configuration: PostgresClient.Configuration, preparesStatements: Bool = true, logger: Logger) {
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.preparesStatements = preparesStatements
        self.logger = logger
    }

    /// `postgres://user:password@host:port/database?search_path=schema&prepared_statements=off`
    public convenience init(url: String, logger: Logger) throws {
        let option = URLComponents(string: url)?.queryItems?.first { $0.name == "prepared_statements" }?.value
        guard let prepares = option.map({ ["on": true, "off": false][$0] }) ?? true else {
            throw StorageError.unsupportedURL("\(url): prepared_statements is on or off")
        }
        self.init(configuration: try Self.configuration(url: url), preparesStatements: prepares, logger: logger)
    }

    /// `postgres://user:password@host:port/database?search_path=schema`
    public static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
              scheme == "postgres" || scheme == "postgresql" else { throw StorageError.unsupportedURL(url) }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        var configuration = PostgresClient.Configuration(
            host: components.host ?? "127.0.0.1",
            port: components.port ?? 5432,
            username: components.user ?? "postgres",
            password: components.password,
            database: database.isEmpty ? nil : database,
            tls: .disable
        )
        // Requests are short: starting parallel workers costs more than it saves.
        var parameters = [("max_parallel_workers_per_gather", "0")]
        if let schema = components.queryItems?.first(where: { $0.name == "search_path" })?.value {
            parameters.append(("search_path", schema))
        }
        configuration.options.additionalStartupParameters = parameters
        configuration.options.maximumConnections = 16
        return configuration
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await StorageMetrics.measure(.postgres, sql) {
            try await Self.collect(client.query(Self.query(sql, binds), logger: logger))
        }
    }

    public func query(prepared sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        guard preparesStatements, let slot = PreparedStatements.slot(sql, binds) else { return try await query(sql, binds) }
        func run<S: StatementSlot>(_: S.Type) async throws -> [SQLRow] {
            try await Self.collect(client.execute(SlotStatement<S>(bindings: Self.bindings(binds)), logger: logger))
        }
        return try await StorageMetrics.measure(.postgres, sql) { try await run(slot) }
    }

    public func transaction<Result: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> Result) async throws -> Result {
        try await client.withTransaction(logger: logger) { connection in
            try await body(Executor(connection: connection, preparesStatements: preparesStatements, logger: logger))
        }
    }

    public func run() async throws {
        await client.run()
    }

    public func close() async throws {}

    struct Executor: SQLExecutor {
        let connection: PostgresConnection
        let preparesStatements: Bool
        let logger: Logger
        var dialect: SQLDialect { .postgres }
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            try await StorageMetrics.measure(.postgres, sql) {
                try await PostgresDatabase.collect(connection.query(PostgresDatabase.query(sql, binds), logger: logger))
            }
        }

        func query(prepared sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            guard preparesStatements, let slot = PreparedStatements.slot(sql, binds) else { return try await query(sql, binds) }
            func run<S: StatementSlot>(_: S.Type) async throws -> [SQLRow] {
                try await PostgresDatabase.collect(connection.execute(SlotStatement<S>(bindings: PostgresDatabase.bindings(binds)), logger: logger))
            }
            return try await StorageMetrics.measure(.postgres, sql) { try await run(slot) }
        }
    }

    static func query(_ sql: String, _ binds: [SQLValue]) -> PostgresQuery {
        PostgresQuery(unsafeSQL: sql, binds: bindings(binds))
    }

    static func bindings(_ binds: [SQLValue]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .null: bindings.appendNull()
            case .integer(let value): bindings.append(value)
            case .real(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            case .bool(let value): bindings.append(value)
            case .blob(let bytes): bindings.append(ByteBuffer(bytes: bytes))
            }
        }
        return bindings
    }

    static func collect<Rows: AsyncSequence>(_ sequence: Rows) async throws -> [SQLRow] where Rows.Element == PostgresRow {
        var rows: [SQLRow] = []
        var columns: SQLColumns?
        for try await row in sequence {
            var values: [SQLValue] = []
            var names: [String] = []
            for cell in row {
                if columns == nil { names.append(cell.columnName) }
                values.append(try value(cell))
            }
            if columns == nil { columns = SQLColumns(names) }
            rows.append(SQLRow(columns: columns!, values: values))
        }
        return rows
    }

    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid: return .integer(try cell.decode(Int64.self))
        case .float4, .float8, .numeric: return .real(try cell.decode(Double.self))
        case .bool: return .bool(try cell.decode(Bool.self))
        case .bytea: return .blob(Array(try cell.decode(ByteBuffer.self).readableBytesView))
        case .text, .varchar, .name, .bpchar: return .text(try cell.decode(String.self))
        default:
            // Other types (jsonb, uuid, ...) are read back as text where the driver can.
            if let text = try? cell.decode(String.self) { return .text(text) }
            return .blob(Array(cell.bytes!.readableBytesView))
        }
    }
}
