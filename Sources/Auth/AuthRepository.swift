import CMCCore
import CMCStorage

/// The Auth service's tables: signing keys, revoked tokens, and the authorization rules in force.
public protocol AuthRepository: Sendable {
    func signingKeys() async throws -> [(kid: String, privateKey: [UInt8])]
    func addSigningKey(kid: String, privateKey: [UInt8]) async throws
    func revoke(tokenID: String, expiresAt: Timestamp) async throws
    /// Revocations still relevant: tokens that have not expired yet.
    func revokedTokens(after now: Timestamp) async throws -> [String]
    func savedRules() async throws -> [AuthorizationRule]?
    func saveRules(_ rules: [AuthorizationRule]?) async throws
    /// Tokens of `subject` issued at or before `validAfter` stop working.
    func stampTokens(subject: String, validAfter: Timestamp) async throws
    func tokenStamps() async throws -> [String: Timestamp]
}

/// The Auth tables use the same SQL on SQLite and PostgreSQL.
public struct SQLAuthRepository: AuthRepository {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func signingKeys() async throws -> [(kid: String, privateKey: [UInt8])] {
        try await database.query("SELECT kid, private_key FROM auth_signing_keys ORDER BY created_at").map { row in
            guard case .blob(let bytes) = row["private_key"] else { throw StorageError.unexpectedValue(column: "private_key", row["private_key"]) }
            return (try row.string("kid"), bytes)
        }
    }

    public func addSigningKey(kid: String, privateKey: [UInt8]) async throws {
        try await database.query(
            "INSERT INTO auth_signing_keys (kid, private_key, created_at) VALUES ($1, $2, $3)",
            .text(kid), .blob(privateKey), .integer(Timestamp.now().microseconds)
        )
    }

    public func revoke(tokenID: String, expiresAt: Timestamp) async throws {
        try await database.query(
            "INSERT INTO auth_revoked_tokens (token_id, expires_at) VALUES ($1, $2) ON CONFLICT (token_id) DO NOTHING",
            .text(tokenID), .integer(expiresAt.microseconds)
        )
    }

    public func revokedTokens(after now: Timestamp) async throws -> [String] {
        try await database.query("DELETE FROM auth_revoked_tokens WHERE expires_at <= $1", .integer(now.microseconds))
        return try await database.query("SELECT token_id FROM auth_revoked_tokens").map { try $0.string("token_id") }
    }

    public func stampTokens(subject: String, validAfter: Timestamp) async throws {
        try await database.query(
            "INSERT INTO auth_token_stamps (subject, valid_after) VALUES ($1, $2) ON CONFLICT (subject) DO UPDATE SET valid_after = excluded.valid_after",
            .text(subject), .integer(validAfter.microseconds)
        )
    }

    public func tokenStamps() async throws -> [String: Timestamp] {
        var stamps: [String: Timestamp] = [:]
        for row in try await database.query("SELECT subject, valid_after FROM auth_token_stamps") {
            stamps[try row.string("subject")] = Timestamp(microseconds: try row.int("valid_after"))
        }
        return stamps
    }

    public func savedRules() async throws -> [AuthorizationRule]? {
        guard let row = try await database.query("SELECT rules FROM auth_rules WHERE id = 1").first else { return nil }
        return try JSONDecoder().decode([AuthorizationRule].self, from: Data(try row.string("rules").utf8))
    }

    public func saveRules(_ rules: [AuthorizationRule]?) async throws {
        guard let rules else {
            try await database.query("DELETE FROM auth_rules WHERE id = 1")
            return
        }
        let text = String(decoding: try JSONCoding.encoder.encode(rules), as: UTF8.self)
        try await database.query(
            "INSERT INTO auth_rules (id, rules, updated_at) VALUES (1, $1, $2) ON CONFLICT (id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at",
            .text(text), .integer(Timestamp.now().microseconds)
        )
    }
}

import Foundation
