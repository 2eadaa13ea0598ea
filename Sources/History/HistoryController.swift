import Auth
import CMCCore
import CMCHTTP
import Hummingbird

/// `/history`: every stored reading, the latest of each device, and aggregates per time bucket.
public struct HistoryController: HTTPController {
    let repository: any ReadingRepository
    let devices: any DeviceDirectory
    /// A caller who is not an admin and names no device is limited to this many readable devices.
    static let maximumDevicesPerQuery = 10_000

    public init(repository: any ReadingRepository, devices: any DeviceDirectory) {
        self.repository = repository
        self.devices = devices
    }

    public static let endpoints: [Endpoint<Self>] = [
        // Public devices' history is open to everyone (the web map); the rest to who may read the device.
        Endpoint(.get, "/history", allow: Audience.everyone, Self.list),
        Endpoint(.get, "/history/{deviceId}/latest", allow: Audience.everyone, Self.latest),
        Endpoint(.get, "/history/{deviceId}/aggregate", allow: Audience.everyone, Self.aggregate),
    ]

    struct Page: Encodable, Sendable, JSONWritable {
        let readings: [Reading]
        let nextCursor: String?

        func write(to writer: inout JSONWriter) {
            writer.object { w in
                w.member("nextCursor", nextCursor)
                w.key("readings")
                w.array(readings) { w, reading in reading.write(to: &w) }
            }
        }
    }

    @Sendable func list(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Page> {
        let caller = context.principal
        let query = try QueryParameters(request, allowed: ["device", "category", "connector", "from", "to", "limit", "cursor"])
        var history = HistoryQuery(category: query.string("category"), connector: query.string("connector"),
                                   from: try query.timestamp("from"), to: try query.timestamp("to"),
                                   limit: try query.int("limit", range: 1...10_000) ?? 1000)
        if let from = history.from, let to = history.to, from > to { throw APIError.invalid("from", "must not be after 'to'") }
        if let cursor = query.string("cursor") {
            let key = try Cursor.decode(cursor, field: "cursor")
            guard let bar = key.firstIndex(of: "|"), let ts = Int64(key[..<bar]) else { throw APIError.invalid("cursor", "is not a cursor this API returned") }
            history.after = (ts, String(key[key.index(after: bar)...]))
        }
        if let device = query.string("device") {
            guard try await devices.canRead(device: device, by: caller) else { throw APIError.notFound("no device \(device)") }
            history.devices = [device]
        } else if let readable = try await devices.readableDevices(by: caller, category: history.category, connector: history.connector,
                                                                    limit: Self.maximumDevicesPerQuery + 1) {
            guard readable.count <= Self.maximumDevicesPerQuery else {
                throw APIError.badRequest("more than \(Self.maximumDevicesPerQuery) devices match; narrow the query with device, category or connector")
            }
            history.devices = readable
        }
        var readings = try await repository.query(history)
        // A page ends at about 8 MiB however large its readings: the rest is behind the cursor.
        let trimmed = AnswerSize.trim(&readings) { JSONValue.approximateSize(of: $0.values) + 160 }
        let full = trimmed || readings.count == history.limit
        let next = full ? readings.last.map { Cursor.encode("\($0.ts.microseconds)|\($0.device)") } : nil
        return JSONResponse(Page(readings: readings, nextCursor: next))
    }

    func readableDevice(_ context: CMCRequestContext) async throws -> String {
        let caller = context.principal
        let device = try context.parameters.require("deviceId")
        guard try await devices.canRead(device: device, by: caller) else { throw APIError.notFound("no device \(device)") }
        return device
    }

    @Sendable func latest(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Reading> {
        let device = try await readableDevice(context)
        guard let reading = try await repository.latest(device: device) else { throw APIError.notFound("device \(device) has no readings yet") }
        return JSONResponse(reading)
    }

    struct Aggregation: Encodable, Sendable {
        let device: String
        let field: String
        let fn: AggregateFunction
        let bucket: String
        let from: Timestamp
        let to: Timestamp
        let buckets: [AggregateBucket]
    }

    @Sendable func aggregate(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Aggregation> {
        let query = try QueryParameters(request, allowed: ["field", "fn", "bucket", "from", "to"])
        guard let field = query.string("field") else { throw APIError.invalid("field", "is required") }
        guard FieldName.isValid(field) else { throw APIError.invalid("field", "must be 1-64 letters, digits, '_', '-' or '.'") }
        let fnName = query.string("fn") ?? "avg"
        guard let fn = AggregateFunction(rawValue: fnName) else {
            throw APIError.invalid("fn", "must be one of \(AggregateFunction.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let bucketText = query.string("bucket") ?? "1h"
        guard let width = BucketWidth.parse(bucketText) else { throw APIError.invalid("bucket", "must be a width such as 30s, 5m, 1h or 1d") }
        let to = try query.timestamp("to") ?? .now()
        let from = try query.timestamp("from") ?? Timestamp(microseconds: to.microseconds - 86_400_000_000)
        guard from <= to else { throw APIError.invalid("from", "must not be after 'to'") }
        guard (to.microseconds - from.microseconds) / width <= 100_000 else {
            throw APIError.invalid("bucket", "gives more than 100000 buckets for this range; widen it or shorten the range")
        }
        let device = try await readableDevice(context)
        let buckets = try await repository.aggregate(AggregateQuery(device: device, field: field, function: fn, bucketMicroseconds: width, from: from, to: to))
        return JSONResponse(Aggregation(device: device, field: field, fn: fn, bucket: bucketText, from: from, to: to, buckets: buckets))
    }
}
