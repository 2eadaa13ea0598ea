import Auth
import CMCCore
import CMCStorage

/// The User service's table.
public protocol UserRepository: Sendable {
    func insert(_ user: StoredUser) async throws
    func find(id: String) async throws -> StoredUser?
    func find(email: String) async throws -> StoredUser?
    func list(limit: Int, after: String?) async throws -> [User]
    func update(_ user: StoredUser) async throws
    func delete(id: String) async throws -> Bool
    func countAdmins() async throws -> Int
}

/// The User table uses the same SQL on SQLite and PostgreSQL.
public struct SQLUserRepository: UserRepository {
    let database: any Database

    public init(database: any Database) { self.database = database }
    static let columns = "id, email, name, role, password_hash, created_at, updated_at"

    public func insert(_ stored: StoredUser) async throws {
        let user = stored.user
        do {
            try await database.query(
                "INSERT INTO users (\(Self.columns)) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                .text(user.id), .text(user.email), .text(user.name), .text(user.role.rawValue), .text(stored.passwordHash),
                .integer(user.createdAt.microseconds), .integer(user.updatedAt.microseconds)
            )
        } catch {
            if try await find(email: user.email) != nil { throw APIError.conflict("a user with this email already exists") }
            throw error
        }
    }

    public func find(id: String) async throws -> StoredUser? {
        try await database.query("SELECT \(Self.columns) FROM users WHERE id = $1", .text(id)).first.map(Self.decode)
    }

    public func find(email: String) async throws -> StoredUser? {
        try await database.query("SELECT \(Self.columns) FROM users WHERE email = $1", .text(email)).first.map(Self.decode)
    }

    public func list(limit: Int, after: String?) async throws -> [User] {
        try await database.query(
            "SELECT \(Self.columns) FROM users WHERE id > $1 ORDER BY id LIMIT $2",
            .text(after ?? ""), .integer(Int64(limit))
        ).map { try Self.decode($0).user }
    }

    public func update(_ stored: StoredUser) async throws {
        let user = stored.user
        do {
            try await database.query(
                "UPDATE users SET email = $2, name = $3, role = $4, password_hash = $5, updated_at = $6 WHERE id = $1",
                .text(user.id), .text(user.email), .text(user.name), .text(user.role.rawValue), .text(stored.passwordHash),
                .integer(user.updatedAt.microseconds)
            )
        } catch {
            if let other = try await find(email: user.email), other.user.id != user.id { throw APIError.conflict("a user with this email already exists") }
            throw error
        }
    }

    public func delete(id: String) async throws -> Bool {
        !(try await database.query("DELETE FROM users WHERE id = $1 RETURNING id", .text(id))).isEmpty
    }

    public func countAdmins() async throws -> Int {
        Int(try await database.query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'").first?.int("n") ?? 0)
    }

    static func decode(_ row: SQLRow) throws -> StoredUser {
        guard let role = Role(rawValue: try row.string("role")) else { throw StorageError.unexpectedValue(column: "role", row["role"]) }
        return StoredUser(
            user: User(
                id: try row.string("id"), email: try row.string("email"), name: try row.string("name"), role: role,
                createdAt: Timestamp(microseconds: try row.int("created_at")), updatedAt: Timestamp(microseconds: try row.int("updated_at"))
            ),
            passwordHash: try row.string("password_hash")
        )
    }
}
