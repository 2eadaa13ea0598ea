import CMCCore
import CMCStorage
import CMCTesting
import Testing

/// Many single-statement writes at once, as under load: on SQLite they are committed together
/// (group commit), and each caller must still hear of its own statement alone.
@Suite("Concurrent writes")
struct ConcurrentWriteTests {
    @Test("each write gets its own outcome and a failing one takes no other with it", arguments: TestBackend.all)
    func concurrentWrites(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            try await database.query("CREATE TABLE write_probe (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")
            // Writer 51 repeats id 50 and writer 120 breaks NOT NULL: two failures among 200.
            let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                for writer in 0..<200 {
                    group.addTask {
                        let id = writer == 51 ? 50 : writer
                        let note: SQLValue = writer == 120 ? .null : .text("writer \(writer)")
                        do {
                            try await database.query("INSERT INTO write_probe (id, note) VALUES ($1, $2)", .integer(Int64(id)), note)
                            return (writer, true)
                        } catch {
                            return (writer, false)
                        }
                    }
                }
                var outcomes: [Int: Bool] = [:]
                for await (writer, ok) in group { outcomes[writer] = ok }
                return outcomes
            }
            #expect(outcomes.filter { !$0.value }.map(\.key).sorted() == [51, 120] || outcomes.filter { !$0.value }.map(\.key).sorted() == [50, 120],
                    "one of the two writers of id 50 and the NULL writer fail, no one else")
            let rows = try await database.query("SELECT id, note FROM write_probe ORDER BY id")
            #expect(rows.count == 198)
            let ids = Set(try rows.map { try $0.int("id") })
            #expect(ids == Set((0..<200).map(Int64.init)).subtracting([51, 120]))
            // Every caller told "done" finds its row.
            for (writer, ok) in outcomes where ok && writer != 50 && writer != 51 {
                #expect(try rows.first { try $0.int("id") == Int64(writer) }?.string("note") == "writer \(writer)")
            }
        }
    }
}
