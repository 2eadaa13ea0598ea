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
        consecutiveFailures = 0
        runs = 0
    }
}
