import CMCCore

/// What the last runs of a source did, as `GET /persistence/sources` shows it.
public struct SourceStatus: Codable, Sendable, Equatable {
    public enum Result: String, Codable, Sendable {
        case ok
        case failed
    }

    public var lastRunAt: Timestamp?
    public var lastResult: Result?
    /// What went wrong, naming the file and field where the feed says.
    public var lastError: String?
    public var lastSuccessAt: Timestamp?
    public var lastDurationMs: Int?
    /// From the last successful run: devices in the feed, devices registered or changed, observations
    /// read, stored as new, and already stored (fetched before).
    public var devices: Int
    public var devicesChanged: Int
    public var observations: Int
    public var stored: Int
    public var duplicates: Int
    /// Entries the feed had but the reader left out, by reason.
    public var skipped: [String: Int]
    /// From the last successful run: what the operator should know though the feed was read
    /// (files of different versions, examples of entries left out). At most `warningLimit`.
    public var warnings: [String]
    public var consecutiveFailures: Int
    public var runs: Int
    public var nextRunAt: Timestamp?

    public init() {
        devices = 0
        devicesChanged = 0
        observations = 0
        stored = 0
        duplicates = 0
        skipped = [:]
        warnings = []
        consecutiveFailures = 0
        runs = 0
    }

    public static let warningLimit = 20

    enum CodingKeys: String, CodingKey {
        case lastRunAt, lastResult, lastError, lastSuccessAt, lastDurationMs, devices, devicesChanged, observations, stored, duplicates,
             skipped, warnings, consecutiveFailures, runs, nextRunAt
    }

    /// Statuses stored before warnings existed read as having none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        lastRunAt = try c.decodeIfPresent(Timestamp.self, forKey: .lastRunAt)
        lastResult = try c.decodeIfPresent(Result.self, forKey: .lastResult)
        lastError = try c.decodeIfPresent(String.self, forKey: .lastError)
        lastSuccessAt = try c.decodeIfPresent(Timestamp.self, forKey: .lastSuccessAt)
        lastDurationMs = try c.decodeIfPresent(Int.self, forKey: .lastDurationMs)
        devices = try c.decode(Int.self, forKey: .devices)
        devicesChanged = try c.decode(Int.self, forKey: .devicesChanged)
        observations = try c.decode(Int.self, forKey: .observations)
        stored = try c.decode(Int.self, forKey: .stored)
        duplicates = try c.decode(Int.self, forKey: .duplicates)
        skipped = try c.decode([String: Int].self, forKey: .skipped)
        warnings = try c.decodeIfPresent([String].self, forKey: .warnings) ?? []
        consecutiveFailures = try c.decode(Int.self, forKey: .consecutiveFailures)
        runs = try c.decode(Int.self, forKey: .runs)
        nextRunAt = try c.decodeIfPresent(Timestamp.self, forKey: .nextRunAt)
    }
}
