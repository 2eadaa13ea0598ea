import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// PostgreSQL (with PostGIS) through a PostgresNIO connection pool.
public final class PostgresDatabase: Database {
    public let dialect = SQLDialect.postgres
    public let client: PostgresClient
    let logger: Logger

    public init(configuration: PostgresClient.Configuration, logger: Logger) {
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
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

    public func transaction<Result: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> Result) async throws -> Result {
        try await client.withTransaction(logger: logger) { connection in
            try await body(Executor(connection: connection, logger: logger))
        }
    }

    public func run() async throws {
        await client.run()
    }

    public func close() async throws {}

    struct Executor: SQLExecutor {
        let connection: PostgresConnection
        let logger: Logger
        var dialect: SQLDialect { .postgres }
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            try await StorageMetrics.measure(.postgres, sql) {
                try await PostgresDatabase.collect(connection.query(PostgresDatabase.query(sql, binds), logger: logger))
            }
        }
    }

    static func query(_ sql: String, _ binds: [SQLValue]) -> PostgresQuery {
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
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    static func collect(_ sequence: PostgresRowSequence) async throws -> [SQLRow] {
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
