import CMCCore
import CMCStorage

/// A page of history, in time order, after an optional (time, device) key.
public struct HistoryQuery: Sendable {
    public var devices: [String]?
    public var category: String?
    public var connector: String?
    public var from: Timestamp?
    public var to: Timestamp?
    public var limit: Int
    public var after: (ts: Int64, device: String)?

    public init(devices: [String]? = nil, category: String? = nil, connector: String? = nil, from: Timestamp? = nil,
                to: Timestamp? = nil, limit: Int = 100, after: (ts: Int64, device: String)? = nil) {
        self.devices = devices
        self.category = category
        self.connector = connector
        self.from = from
        self.to = to
        self.limit = limit
        self.after = after
    }
}

/// The History service's tables: every reading, and the latest reading of each device.
public protocol ReadingRepository: Sendable {
    /// Stores the readings durably; returns how many were new (a device's reading at an already
    /// stored time is kept once).
    func store(_ readings: [Reading]) async throws -> Int
    func query(_ query: HistoryQuery) async throws -> [Reading]
    func latest(device: String) async throws -> Reading?
    func latest(devices: [String]) async throws -> [String: Reading]
    func aggregate(_ query: AggregateQuery) async throws -> [AggregateBucket]
    /// Deletes every reading of the device: its history does not pass to the next device of its id.
    func forget(device: String) async throws
}

/// SQL the two backends share; each backend adds what differs (partitions, JSON access).
protocol SQLReadingRepository: ReadingRepository {
    var database: any Database { get }
    /// SQL for a reading's numeric field, or NULL where it is missing or not a number.
    func numericField(_ placeholder: String) -> String
    /// The path or key bound for `numericField`.
    func fieldBind(_ field: String) -> SQLValue
    func prepareStore(_ readings: [Reading]) async throws
}

extension SQLReadingRepository {
    static var columns: String { "device_id, ts, category, connector, payload" }

    public func store(_ readings: [Reading]) async throws -> Int { try await insert(readings) }
    public func latest(device: String) async throws -> Reading? { try await selectLatest(device: device) }
    public func latest(devices: [String]) async throws -> [String: Reading] { try await selectLatest(devices: devices) }
    public func forget(device: String) async throws { try await deleteReadings(device: device) }

    func insert(_ readings: [Reading]) async throws -> Int {
        guard !readings.isEmpty else { return 0 }
        try await prepareStore(readings)
        var latest: [String: Reading] = [:]
        for reading in readings where reading.ts >= (latest[reading.device]?.ts ?? Timestamp(microseconds: .min)) {
            latest[reading.device] = reading
        }
        let latestReadings = Array(latest.values)
        return try await database.transaction { tx in
            var stored = 0
            // A single reading (a REST write, a lone MQTT message) is the common case: its two
            // statements are prepared; a batch's text varies with its size and is not.
            @discardableResult func run(_ sql: String, rows: Int, _ binds: [SQLValue]) async throws -> [SQLRow] {
                rows == 1 ? try await tx.query(prepared: sql, binds) : try await tx.query(sql, binds)
            }
            // 5 binds a row; chunks stay far below either backend's parameter limit.
            for chunk in readings.chunked(400) {
                stored += try await run(
                    "INSERT INTO readings (\(Self.columns)) VALUES \(Self.placeholders(rows: chunk.count)) ON CONFLICT (device_id, ts) DO NOTHING RETURNING ts",
                    rows: chunk.count, chunk.flatMap(Self.binds)
                ).count
            }
            for chunk in latestReadings.chunked(400) {
                try await run(
                    """
                    INSERT INTO latest_readings (\(Self.columns)) VALUES \(Self.placeholders(rows: chunk.count))
                    ON CONFLICT (device_id) DO UPDATE SET ts = excluded.ts, category = excluded.category,
                        connector = excluded.connector, payload = excluded.payload
                    WHERE excluded.ts >= latest_readings.ts
                    """,
                    rows: chunk.count, chunk.flatMap(Self.binds)
                )
            }
            return stored
        }
    }

    public func query(_ query: HistoryQuery) async throws -> [Reading] {
        var conditions = SQLConditions()
        if let devices = query.devices {
            if devices.count == 1 { conditions.add("device_id", "=", .text(devices[0])) } else { conditions.add("device_id", in: devices.map { .text($0) }) }
        }
        if let category = query.category { conditions.add("category", "=", .text(category)) }
        if let connector = query.connector { conditions.add("connector", "=", .text(connector)) }
        if let from = query.from { conditions.add("ts", ">=", .integer(from.microseconds)) }
        if let to = query.to { conditions.add("ts", "<", .integer(to.microseconds)) }
        if let after = query.after {
            let ts = conditions.bind(.integer(after.ts))
            conditions.add("(ts > \(ts) OR (ts = \(ts) AND device_id > \(conditions.bind(.text(after.device)))))")
        }
        let limit = conditions.bind(.integer(Int64(query.limit)))
        return try await database.query(
            "SELECT \(Self.columns) FROM readings \(conditions.whereClause) ORDER BY ts, device_id LIMIT \(limit)",
            conditions.binds
        ).map(Self.decode)
    }

    func deleteReadings(device: String) async throws {
        try await database.transaction { tx in
            try await tx.query("DELETE FROM readings WHERE device_id = $1", .text(device))
            try await tx.query("DELETE FROM latest_readings WHERE device_id = $1", .text(device))
        }
    }

    func selectLatest(device: String) async throws -> Reading? {
        try await database.query(prepared: "SELECT \(Self.columns) FROM latest_readings WHERE device_id = $1", .text(device)).first.map(Self.decode)
    }

    func selectLatest(devices: [String]) async throws -> [String: Reading] {
        var found: [String: Reading] = [:]
        for chunk in devices.chunked(500) {
            var conditions = SQLConditions()
            conditions.add("device_id", in: chunk.map { .text($0) })
            for row in try await database.query("SELECT \(Self.columns) FROM latest_readings \(conditions.whereClause)", conditions.binds) {
                let reading = try Self.decode(row)
                found[reading.device] = reading
            }
        }
        return found
    }

    public func aggregate(_ query: AggregateQuery) async throws -> [AggregateBucket] {
        let value = numericField("$2")
        let binds: [SQLValue] = [.text(query.device), fieldBind(query.field), .integer(query.bucketMicroseconds),
                                 .integer(query.from.microseconds), .integer(query.to.microseconds)]
        let window = "FROM readings WHERE device_id = $1 AND ts >= $4 AND ts < $5"
        // Buckets are aligned to `from`, so the first bucket starts where the caller asked.
        let bucket = "(($4 + ((ts - $4) / $3) * $3))"
        if query.function == .median {
            return try await median(sql: "SELECT \(bucket) AS bucket, \(value) AS v \(window) ORDER BY bucket, v", binds: binds)
        }
        let function = query.function == .count ? "COUNT" : query.function.rawValue.uppercased()
        let summing = query.function == .sum || query.function == .avg
        do {
            let rows = try await database.query(
                "SELECT \(bucket) AS bucket, \(function)(\(value)) AS v, COUNT(\(value)) AS n \(window) GROUP BY bucket ORDER BY bucket",
                binds
            )
            let buckets = try rows.map { row in
                AggregateBucket(start: Timestamp(microseconds: try row.int("bucket")), value: row.optionalDouble("v"), count: Int(try row.int("n")))
            }
            // SQLite's sum of doubles overflows to infinity, which JSON cannot carry.
            guard summing, buckets.contains(where: { $0.value.map { !$0.isFinite } ?? false }) else { return buckets }
        } catch {
            // PostgreSQL refuses a float8 sum that overflows ("value out of range"); anything else
            // fails again below and is thrown from there.
            guard summing else { throw error }
        }
        return try await summed(sql: "SELECT \(bucket) AS bucket, \(value) AS v \(window) ORDER BY bucket", binds: binds, query: query)
    }

    /// Sums and averages value by value, when the database's own overflowed: an average is a
    /// running mean, which stays within range whatever the values; a sum out of a double's range
    /// is refused, naming the bucket.
    func summed(sql: String, binds: [SQLValue], query: AggregateQuery) async throws -> [AggregateBucket] {
        var buckets: [AggregateBucket] = []
        var current: (start: Int64, count: Int, sum: Double, mean: Double)?
        func flush() throws {
            guard let current else { return }
            if query.function == .sum, !current.sum.isFinite {
                throw APIError.unprocessable("fn: the sum of \(query.field) in the bucket at \(Timestamp(microseconds: current.start)) is beyond the range of a 64-bit float; ask for avg or smaller buckets", code: "aggregate_overflow")
            }
            let value: Double? = current.count == 0 ? nil : query.function == .sum ? current.sum : current.mean
            buckets.append(AggregateBucket(start: Timestamp(microseconds: current.start), value: value, count: current.count))
        }
        for row in try await database.query(sql, binds) {
            let start = try row.int("bucket")
            if current?.start != start {
                try flush()
                current = (start, 0, 0, 0)
            }
            if let v = row.optionalDouble("v") {
                current!.count += 1
                current!.sum += v
                let n = Double(current!.count)
                current!.mean += v / n - current!.mean / n
            }
        }
        try flush()
        return buckets
    }

    func median(sql: String, binds: [SQLValue]) async throws -> [AggregateBucket] {
        var buckets: [AggregateBucket] = []
        var current: (start: Int64, values: [Double])?
        func flush() {
            guard let current else { return }
            let values = current.values
            let middle = values.count / 2
            let value: Double? = values.isEmpty ? nil : values.count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2
            buckets.append(AggregateBucket(start: Timestamp(microseconds: current.start), value: value, count: values.count))
        }
        for row in try await database.query(sql, binds) {
            let start = try row.int("bucket")
            if current?.start != start {
                flush()
                current = (start, [])
            }
            if let v = row.optionalDouble("v") { current!.values.append(v) }
        }
        flush()
        return buckets
    }

    static func placeholders(rows: Int) -> String {
        (0..<rows).map { row in
            let base = row * 5
            return "($\(base + 1), $\(base + 2), $\(base + 3), $\(base + 4), $\(base + 5))"
        }.joined(separator: ", ")
    }

    static func binds(_ reading: Reading) -> [SQLValue] {
        [.text(reading.device), .integer(reading.ts.microseconds), .text(reading.category), .text(reading.connector),
         .text(JSONValue.encodeObject(reading.values))]
    }

    static func decode(_ row: SQLRow) throws -> Reading {
        Reading(
            device: try row.string("device_id"), ts: Timestamp(microseconds: try row.int("ts")),
            category: try row.string("category"), connector: try row.string("connector"),
            values: JSONValue.decodeObject(try row.string("payload"))
        )
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
