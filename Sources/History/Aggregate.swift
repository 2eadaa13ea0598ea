import CMCCore

/// The aggregate functions of `/history/{deviceId}/aggregate`.
public enum AggregateFunction: String, Codable, Sendable, CaseIterable {
    case avg, min, max, sum, count, median
}

/// One time bucket of an aggregate; `value` is absent where the bucket has no numeric reading.
public struct AggregateBucket: Codable, Sendable, Equatable {
    public let start: Timestamp
    public let value: Double?
    public let count: Int
}

public struct AggregateQuery: Sendable {
    public let device: String
    public let field: String
    public let function: AggregateFunction
    public let bucketMicroseconds: Int64
    public let from: Timestamp
    public let to: Timestamp
}

/// Bucket widths such as `30s`, `5m`, `1h`, `1d`.
public enum BucketWidth {
    public static func parse(_ text: String) -> Int64? {
        guard let unit = text.last, let count = Int64(text.dropLast()), count > 0, count <= 100_000 else { return nil }
        let seconds: Int64
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86400
        case "w": seconds = 7 * 86400
        default: return nil
        }
        return count * seconds * 1_000_000
    }
}
