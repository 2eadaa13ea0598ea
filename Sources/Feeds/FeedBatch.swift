import CMCCore

/// A thing a feed describes: a bus stop, a parking area, a bike dock, a loop detector...
/// `id` is the feed's own identifier; the platform prefixes it with the source's namespace.
public struct FeedDevice: Sendable, Equatable {
    public var id: String
    public var category: String
    public var name: String?
    public var lat: Double?
    public var lon: Double?
    /// Static facts: capacity, lines served, vehicle types... Stored on the device.
    public var metadata: [String: JSONValue]

    public init(id: String, category: String, name: String? = nil, lat: Double? = nil, lon: Double? = nil, metadata: [String: JSONValue] = [:]) {
        self.id = id
        self.category = category
        self.name = name
        self.lat = lat
        self.lon = lon
        self.metadata = metadata
    }
}

/// A measurement a feed reports for one of its devices at one time.
public struct Observation: Sendable, Equatable {
    public var device: String
    public var time: Timestamp
    public var values: [String: JSONValue]

    public init(device: String, time: Timestamp, values: [String: JSONValue]) {
        self.device = device
        self.time = time
        self.values = values
    }
}

/// What one read of a source found.
public struct FeedBatch: Sendable {
    public var devices: [FeedDevice]
    public var observations: [Observation]
    /// Entries left out, by reason (`dataError`, `unknown station`...), so a source's status can say so.
    public var skipped: [String: Int]
    /// What the operator should know of the feed though it was read: files that disagree on their
    /// version, examples of entries left out...
    public var warnings: [String]

    public init(devices: [FeedDevice] = [], observations: [Observation] = [], skipped: [String: Int] = [:], warnings: [String] = []) {
        self.devices = devices
        self.observations = observations
        self.skipped = skipped
        self.warnings = warnings
    }

    public mutating func skip(_ reason: String) { skipped[reason, default: 0] += 1 }
}

/// Why a feed could not be read: said in the source's status, so it names the file and the field.
public struct FeedError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

extension Timestamp {
    /// A time as feeds write it in JSON: seconds since 1970 (GBFS v2.3) or RFC 3339 (GBFS v3.0, most APIs).
    init?(feedValue value: JSONValue?) {
        switch value {
        case .number(let seconds)?: self.init(seconds: seconds)
        case .string(let text)?: self.init(parsing: text)
        default: return nil
        }
    }
}
