import CMCCore

/// Readings in SQLite: a table clustered on (device, time), so one device's range is one index scan.
public struct SQLiteReadingRepository: SQLReadingRepository {
    let database: any Database

    public init(database: any Database) { self.database = database }

    func numericField(_ placeholder: String) -> String {
        "CASE WHEN json_type(payload, \(placeholder)) IN ('integer', 'real') THEN CAST(json_extract(payload, \(placeholder)) AS REAL) END"
    }

    func fieldBind(_ field: String) -> SQLValue { .text("$.\"\(field)\"") }

    func prepareStore(_ readings: [Reading]) async throws {}
}
