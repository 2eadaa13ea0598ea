import CMCCore
import CMCStorage

/// The App service's table.
public protocol AppRepository: Sendable {
    func insert(_ app: ThirdPartyApp, secretHash: String) async throws
    func find(id: String) async throws -> (app: ThirdPartyApp, secretHash: String)?
    func list(ownerID: String?, limit: Int, after: String?) async throws -> [ThirdPartyApp]
    func update(_ app: ThirdPartyApp) async throws
    func updateSecret(id: String, secretHash: String) async throws
    func delete(id: String) async throws
    func deleteAll(ownerID: String) async throws
}

/// The App table uses the same SQL on SQLite and PostgreSQL.
public struct SQLAppRepository: AppRepository {
    let database: any Database

    public init(database: any Database) { self.database = database }
    static let columns = "id, owner_id, name, description, secret_hash, created_at, updated_at"

    public func insert(_ app: ThirdPartyApp, secretHash: String) async throws {
        try await database.query(
            "INSERT INTO apps (\(Self.columns)) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            .text(app.id), .text(app.ownerID), .text(app.name), .text(app.description), .text(secretHash),
            .integer(app.createdAt.microseconds), .integer(app.updatedAt.microseconds)
        )
    }

    public func find(id: String) async throws -> (app: ThirdPartyApp, secretHash: String)? {
        guard let row = try await database.query("SELECT \(Self.columns) FROM apps WHERE id = $1", .text(id)).first else { return nil }
        return (try Self.decode(row), try row.string("secret_hash"))
    }

    public func list(ownerID: String?, limit: Int, after: String?) async throws -> [ThirdPartyApp] {
        var conditions = SQLConditions()
        if let ownerID { conditions.add("owner_id", "=", .text(ownerID)) }
        if let after { conditions.add("id", ">", .text(after)) }
        let limit = conditions.bind(.integer(Int64(limit)))
        return try await database.query(
            "SELECT \(Self.columns) FROM apps \(conditions.whereClause) ORDER BY id LIMIT \(limit)", conditions.binds
        ).map(Self.decode)
    }

    public func update(_ app: ThirdPartyApp) async throws {
        try await database.query(
            "UPDATE apps SET name = $2, description = $3, updated_at = $4 WHERE id = $1",
            .text(app.id), .text(app.name), .text(app.description), .integer(app.updatedAt.microseconds)
        )
    }

    public func updateSecret(id: String, secretHash: String) async throws {
        try await database.query(
            "UPDATE apps SET secret_hash = $2, updated_at = $3 WHERE id = $1",
            .text(id), .text(secretHash), .integer(Timestamp.now().microseconds)
        )
    }

    public func delete(id: String) async throws {
        try await database.query("DELETE FROM apps WHERE id = $1", .text(id))
    }

    public func deleteAll(ownerID: String) async throws {
        try await database.query("DELETE FROM apps WHERE owner_id = $1", .text(ownerID))
    }

    static func decode(_ row: SQLRow) throws -> ThirdPartyApp {
        ThirdPartyApp(
            id: try row.string("id"), ownerID: try row.string("owner_id"), name: try row.string("name"),
            description: try row.string("description"),
            createdAt: Timestamp(microseconds: try row.int("created_at")), updatedAt: Timestamp(microseconds: try row.int("updated_at"))
        )
    }
}
