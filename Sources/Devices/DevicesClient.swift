import Events

/// How other services reach the device registry: in-process now, over HTTP or the broker when
/// Devices runs as a process of its own. No service but Devices reads or writes its tables.
public protocol DevicesClient: Sendable {
    func device(id: String) async throws -> Device?
    /// The devices matching `filter`, at most `filter.limit`.
    func devices(_ filter: DeviceFilter) async throws -> [Device]
    /// Registers devices whose ids are free and announces them.
    func register(_ devices: [Device]) async throws
    /// Stores a device's new state and announces it.
    func update(_ device: Device) async throws
}

/// The registry in the same process: its repository, the readings' device cache (kept current
/// at once, as the bus would a moment later) and the bus.
public struct LocalDevices: DevicesClient {
    let repository: any DeviceRepository
    let lookup: DeviceLookup?
    let events: EventBus?

    public init(repository: any DeviceRepository, lookup: DeviceLookup?, events: EventBus?) {
        self.repository = repository
        self.lookup = lookup
        self.events = events
    }

    public func device(id: String) async throws -> Device? { try await repository.find(id: id) }

    public func devices(_ filter: DeviceFilter) async throws -> [Device] { try await repository.list(filter) }

    public func register(_ devices: [Device]) async throws {
        guard !devices.isEmpty else { return }
        try await repository.insert(contentsOf: devices)
        for device in devices { lookup?.remember(device) }
        events?.publish(devices.map { Event(.deviceCreated, device: $0) })
    }

    public func update(_ device: Device) async throws {
        try await repository.update(device)
        lookup?.remember(device)
        events?.publish([Event(.deviceChanged, device: device)])
    }
}
