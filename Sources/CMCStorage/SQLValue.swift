/// A value bound into, or read out of, SQL on either backend.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case bool(Bool)
    case blob([UInt8])
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(nilLiteral: ()) { self = .null }

    public static func optional(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }
    public static func optional(_ value: Double?) -> SQLValue { value.map { .real($0) } ?? .null }
    public static func optional(_ value: Int64?) -> SQLValue { value.map { .integer($0) } ?? .null }
}

/// The column names of one result, shared by all its rows.
public final class SQLColumns: Sendable {
    public let names: [String]
    let index: [String: Int]

    public init(_ names: [String]) {
        self.names = names
        self.index = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// One result row: columns by name, values converted to `SQLValue`.
public struct SQLRow: Sendable {
    public let columns: SQLColumns
    public let values: [SQLValue]

    public init(columns: SQLColumns, values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(_ name: String) -> SQLValue {
        guard let index = columns.index[name] else { return .null }
        return values[index]
    }

    public func string(_ name: String) throws -> String {
        guard let value = optionalString(name) else { throw StorageError.unexpectedValue(column: name, self[name]) }
        return value
    }

    public func optionalString(_ name: String) -> String? {
        switch self[name] {
        case .text(let value): value
        case .integer(let value): String(value)
        case .real(let value): String(value)
        case .blob(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    public func int(_ name: String) throws -> Int64 {
        guard let value = optionalInt(name) else { throw StorageError.unexpectedValue(column: name, self[name]) }
        return value
    }

    public func optionalInt(_ name: String) -> Int64? {
        switch self[name] {
        case .integer(let value): value
        case .real(let value): Int64(value)
        case .bool(let value): value ? 1 : 0
        case .text(let value): Int64(value)
        default: nil
        }
    }

    public func optionalDouble(_ name: String) -> Double? {
        switch self[name] {
        case .real(let value): value
        case .integer(let value): Double(value)
        case .text(let value): Double(value)
        default: nil
        }
    }

    public func bool(_ name: String) -> Bool {
        switch self[name] {
        case .bool(let value): value
        case .integer(let value): value != 0
        default: false
        }
    }
}

public enum StorageError: Error, CustomStringConvertible {
    case unexpectedValue(column: String, SQLValue)
    case unsupportedURL(String)
    case migration(String)

    public var description: String {
        switch self {
        case .unexpectedValue(let column, let value): "unexpected value in column \(column): \(value)"
        case .unsupportedURL(let url): "unsupported database URL: \(url) (use sqlite:PATH or postgres://user:password@host:port/db)"
        case .migration(let message): "migration failed: \(message)"
        }
    }
}
