import CMCCore
import CMCStorage
import Events
import Foundation

/// The webhooks table; the same SQL on SQLite and PostgreSQL.
public struct WebhookRepository: Sendable {
    let database: any Database
    static let columns = "id, url, filter, secret, owner_id, sees_everything, created_by, status, consecutive_failures, last_error, last_failure_at, created_at"

    public init(database: any Database) { self.database = database }

    func insert(_ webhook: Webhook) async throws {
        let owner: String?
        switch webhook.filter.viewer {
        case .everything: owner = nil
        case .user(let user): owner = user
        }
        try await database.query(
            "INSERT INTO webhooks (\(Self.columns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            .text(webhook.id), .text(webhook.url), .text(Self.encode(webhook.filter)), .text(webhook.secret), .optional(owner),
            .integer(webhook.filter.viewer == .everything ? 1 : 0), .text(webhook.createdBy), .text(webhook.status.rawValue),
            .integer(Int64(webhook.consecutiveFailures)), .optional(webhook.lastError), .optional(webhook.lastFailureAt?.microseconds),
            .integer(webhook.createdAt.microseconds)
        )
    }

    public func all() async throws -> [Webhook] {
        try await database.query("SELECT \(Self.columns) FROM webhooks ORDER BY created_at, id").map(Self.decode)
    }

    func find(id: String) async throws -> Webhook? {
        try await database.query("SELECT \(Self.columns) FROM webhooks WHERE id = $1", .text(id)).first.map(Self.decode)
    }

    func delete(id: String) async throws {
        try await database.query("DELETE FROM webhooks WHERE id = $1", .text(id))
    }

    /// Subscriptions the user made, or that act for the user (made by the user's applications).
    func deleteAll(ownedBy userID: String) async throws -> [String] {
        try await database.query("DELETE FROM webhooks WHERE owner_id = $1 OR created_by = $1 RETURNING id", .text(userID))
            .map { try $0.string("id") }
    }

    /// How many subscriptions act for the user (theirs and their applications').
    func count(ownedBy userID: String) async throws -> Int {
        Int(try await database.query("SELECT COUNT(*) AS n FROM webhooks WHERE owner_id = $1", .text(userID)).first?.int("n") ?? 0)
    }

    func saveHealth(_ webhook: Webhook) async throws {
        try await database.query(
            "UPDATE webhooks SET status = $2, consecutive_failures = $3, last_error = $4, last_failure_at = $5 WHERE id = $1",
            .text(webhook.id), .text(webhook.status.rawValue), .integer(Int64(webhook.consecutiveFailures)),
            .optional(webhook.lastError), .optional(webhook.lastFailureAt?.microseconds)
        )
    }

    static func encode(_ filter: EventFilter) -> String {
        var writer = JSONWriter(capacity: 128)
        filter.write(to: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    static func decode(_ row: SQLRow) throws -> Webhook {
        let viewer: EventFilter.Viewer = try row.int("sees_everything") != 0 ? .everything : .user(row.optionalString("owner_id"))
        let body = try JSONDecoder().decode(FilterBody.self, from: Data(try row.string("filter").utf8))
        guard let status = Webhook.Status(rawValue: try row.string("status")) else {
            throw StorageError.unexpectedValue(column: "status", row["status"])
        }
        return Webhook(
            id: try row.string("id"), url: try row.string("url"), filter: try body.filter(viewer: viewer), secret: try row.string("secret"),
            createdBy: try row.string("created_by"), status: status, consecutiveFailures: Int(try row.int("consecutive_failures")),
            lastError: row.optionalString("last_error"), lastFailureAt: row.optionalInt("last_failure_at").map(Timestamp.init(microseconds:)),
            createdAt: Timestamp(microseconds: try row.int("created_at"))
        )
    }
}
