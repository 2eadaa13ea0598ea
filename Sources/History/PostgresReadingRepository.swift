import Foundation
import CMCCore
import CMCStorage
import NIOConcurrencyHelpers

/// Readings in PostgreSQL: a table partitioned by month of `ts`, so a range query touches only
/// the months it covers and old months can be detached or dropped whole.
public final class PostgresReadingRepository: SQLReadingRepository {
    let database: any Database
    private let knownPartitions = NIOLockedValueBox(Set<String>())

    public init(database: any Database) { self.database = database }

    func numericField(_ placeholder: String) -> String {
        "CASE WHEN jsonb_typeof(payload::jsonb -> \(placeholder)::text) = 'number' THEN (payload::jsonb ->> \(placeholder)::text)::float8 END"
    }

    func fieldBind(_ field: String) -> SQLValue { .text(field) }

    func prepareStore(_ readings: [Reading]) async throws {
        var months = Set<Int64>()
        for reading in readings { months.insert(Self.monthStart(reading.ts.microseconds)) }
        for month in months {
            let name = Self.partitionName(month)
            if knownPartitions.withLockedValue({ $0.contains(name) }) { continue }
            let (start, end) = Self.bounds(month)
            do {
                try await database.query("CREATE TABLE IF NOT EXISTS \(name) PARTITION OF readings FOR VALUES FROM (\(start)) TO (\(end))")
            } catch {
                // Another process may have created it between our check and our CREATE.
                let exists = try await database.query("SELECT to_regclass($1) IS NOT NULL AS present", .text(name)).first?.bool("present") ?? false
                if !exists { throw error }
            }
            knownPartitions.withLockedValue { _ = $0.insert(name) }
        }
    }

    /// Months are numbered from 1970-01 so arithmetic stays in integers.
    static func monthStart(_ micros: Int64) -> Int64 {
        let days = micros.floorDiv(86_400_000_000)
        let (year, month, _) = CivilDate.civilFromDays(days)
        return (year - 1970) * 12 + (month - 1)
    }

    static func bounds(_ monthIndex: Int64) -> (Int64, Int64) {
        func start(_ index: Int64) -> Int64 {
            let year = 1970 + index.floorDiv(12)
            let month = index - index.floorDiv(12) * 12 + 1
            return CivilDate.daysFromCivil(year, month, 1) * 86_400_000_000
        }
        return (start(monthIndex), start(monthIndex + 1))
    }

    static func partitionName(_ monthIndex: Int64) -> String {
        let year = 1970 + monthIndex.floorDiv(12)
        let month = monthIndex - monthIndex.floorDiv(12) * 12 + 1
        return "readings_\(year)_\(month < 10 ? "0" : "")\(month)".replacingOccurrences(of: "-", with: "m")
    }
}
