import Foundation
import Logging

/// The SQL flavour a repository speaks; repositories share SQL where the two agree.
public enum SQLDialect: String, Sendable, CaseIterable {
    case sqlite
    case postgres
}

/// Runs SQL with `$1`-style placeholders on one backend.
public protocol SQLExecutor: Sendable {
    var dialect: SQLDialect { get }
    @discardableResult
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]

    /// Runs one of the hot path's statements, which the backend may keep prepared. `sql` must be
    /// one of a few fixed texts (values in binds, never in the text).
    @discardableResult
    func query(prepared sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
}

/// A storage backend: runs queries and transactions, and is a `Service` the application runs.
public protocol Database: SQLExecutor {
    /// Runs `body` in one transaction, committed when it returns and rolled back when it throws.
    func transaction<Result: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> Result) async throws -> Result

    /// Serves connections until the task is cancelled (a no-op for embedded backends).
    func run() async throws

    func close() async throws
}

extension SQLExecutor {
    @discardableResult
    public func query(_ sql: String, _ binds: SQLValue...) async throws -> [SQLRow] {
        try await query(sql, binds)
    }

    /// SQLite keeps every statement prepared already (`SQLiteConnection`).
    @discardableResult
    public func query(prepared sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await query(sql, binds)
    }

    @discardableResult
    public func query(prepared sql: String, _ binds: SQLValue...) async throws -> [SQLRow] {
        try await query(prepared: sql, binds)
    }

    public func executeScript(_ sql: String) async throws {
        for statement in SQLScript.statements(in: sql) {
            try await query(statement, [])
        }
    }
}

public enum SQLScript {
    /// Splits a script on `;` at the end of a line, keeping `$$`-quoted bodies whole.
    public static func statements(in script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inDollarQuote = false
        for line in script.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("--") && current.isEmpty { continue }
            current += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { inDollarQuote.toggle() }
            if !inDollarQuote && trimmed.hasSuffix(";") {
                statements.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
                current = ""
            }
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { statements.append(rest) }
        return statements
    }
}
