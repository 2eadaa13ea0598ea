/// How other services write to and read from History: in-process now, over HTTP or MQTT when
/// History runs as its own process.
public protocol HistoryClient: Sendable {
    /// Returns once the readings are durable; the count is how many were new.
    func record(_ readings: [Reading]) async throws -> Int
    func latest(device: String) async throws -> Reading?
    /// The latest reading of each of these devices that has one.
    func latest(devices: [String]) async throws -> [String: Reading]
    /// Deletes the device's readings, when the device is deleted or its id registered anew.
    func forget(device: String) async throws
}

/// History in the same process: straight to its repository.
public struct LocalHistory: HistoryClient {
    let repository: any ReadingRepository

    public init(repository: any ReadingRepository) { self.repository = repository }

    public func record(_ readings: [Reading]) async throws -> Int { try await repository.store(readings) }
    public func latest(device: String) async throws -> Reading? { try await repository.latest(device: device) }
    public func latest(devices: [String]) async throws -> [String: Reading] { try await repository.latest(devices: devices) }
    public func forget(device: String) async throws { try await repository.forget(device: device) }
}
