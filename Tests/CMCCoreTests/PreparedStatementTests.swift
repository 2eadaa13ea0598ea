import CMCCore
import CMCStorage
import CMCTesting
import Testing

/// The hot statements PostgreSQL keeps prepared (`query(prepared:)`), and the switch that turns
/// them off for a pooler that cannot keep them.
@Suite("Prepared statements")
struct PreparedStatementTests {
    @Test("a prepared text answers with what was bound, whatever the type of each run's values", arguments: TestBackend.all)
    func valuesAsBound(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            // A prepared statement fixes its parameters' types: were the second run to reuse the
            // first's, the real's bytes would be read as an integer's.
            let sql = "SELECT $1 + 0 AS v"
            #expect(try await database.query(prepared: sql, .integer(7)).first?.optionalDouble("v") == 7)
            #expect(try await database.query(prepared: sql, .real(2.5)).first?.optionalDouble("v") == 2.5)
            #expect(try await database.query(prepared: sql, .null).first?.values == [.null])
            #expect(try await database.query(prepared: sql, .integer(8)).first?.optionalDouble("v") == 8)
            let inTransaction = try await database.transaction { tx in
                try await tx.query(prepared: "SELECT $1 || '!' AS t", .text("ok")).first?.optionalString("t")
            }
            #expect(inTransaction == "ok!")
        }
    }

    @Test("PostgreSQL keeps the text prepared on the connection, unless the URL says prepared_statements=off")
    func preparedOnTheConnection() async throws {
        guard TestBackend.all.contains(.postgres) else { return }
        let probe = "SELECT $1::int8 + 1 AS n"
        let listed = "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = $1"
        try await TestBackend.postgres.withDatabase { database, url in
            let prepared = try await database.transaction { tx in
                _ = try await tx.query(prepared: probe, .integer(41))
                return try await tx.query(listed, .text(probe)).first?.int("n")
            }
            #expect(prepared == 1)

            let unprepared = try PostgresDatabase(url: url + "&prepared_statements=off", logger: TestBackend.logger)
            let count = try await withThrowingTaskGroup(of: Int64?.self) { group in
                group.addTask { try await unprepared.run(); return nil }
                let count = try await unprepared.transaction { tx in
                    #expect(try await tx.query(prepared: probe, .integer(41)).first?.int("n") == 42)
                    return try await tx.query(listed, .text(probe)).first?.int("n")
                }
                group.cancelAll()
                return count
            }
            #expect(count == 0)
        }
        #expect(throws: (any Error).self) { try PostgresDatabase(url: "postgres://u@127.0.0.1/db?prepared_statements=maybe", logger: TestBackend.logger) }
    }
}
