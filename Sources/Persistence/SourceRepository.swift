import CMCCore
import CMCStorage
import Foundation

/// Where a source was declared: a file in `connectors/` or a REST call.
public enum SourceOrigin: String, Codable, Sendable {
    case file
    case api
}

/// A source with where it came from and how its runs went.
public struct SourceRecord: Codable, Sendable, Equatable {
    public var source: Source
    public var origin: SourceOrigin
    public var status: SourceStatus
}

/// The `persistence_sources` table; the same SQL on SQLite and PostgreSQL.
public struct SourceRepository: Sendable {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func all() async throws -> [SourceRecord] {
        try await database.query("SELECT id, config, origin, status FROM persistence_sources ORDER BY id").map(Self.decode)
    }

    public func find(id: String) async throws -> SourceRecord? {
        try await database.query("SELECT id, config, origin, status FROM persistence_sources WHERE id = $1", .text(id)).first.map(Self.decode)
    }

    /// Inserts or replaces the configuration, keeping the status of an existing source.
    func save(_ source: Source, origin: SourceOrigin) async throws {
        try await database.query(
            """
            INSERT INTO persistence_sources (id, config, origin, status, updated_at) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (id) DO UPDATE SET config = excluded.config, origin = excluded.origin, updated_at = excluded.updated_at
            """,
            .text(source.id), .text(try Self.encode(source)), .text(origin.rawValue), .text(try Self.encode(SourceStatus())),
            .integer(Timestamp.now().microseconds)
        )
    }

    func saveStatus(id: String, _ status: SourceStatus) async throws {
        try await database.query("UPDATE persistence_sources SET status = $2 WHERE id = $1", .text(id), .text(try Self.encode(status)))
    }

    func delete(id: String) async throws {
        try await database.query("DELETE FROM persistence_sources WHERE id = $1", .text(id))
    }

    static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try JSONCoding.encoder.encode(value), as: UTF8.self)
    }

    static func decode(_ row: SQLRow) throws -> SourceRecord {
        let decoder = JSONDecoder()
        return SourceRecord(
            source: try decoder.decode(Source.self, from: Data(try row.string("config").utf8)),
            origin: SourceOrigin(rawValue: try row.string("origin")) ?? .api,
            status: (try? decoder.decode(SourceStatus.self, from: Data(try row.string("status").utf8))) ?? SourceStatus()
        )
    }
}
