import Events
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The devices readings arrive for, looked up once: a busy device, or a feed of thousands, costs
/// no query per reading. An entry is dropped as soon as the device's change or deletion is
/// announced on the event bus, and expires after `lifetime` in any case, which bounds what a lost
/// announcement (or a change made by another process) can leave behind. "No such device" is
/// remembered too, so a device publishing under a wrong id costs no query per message either.
public final class DeviceLookup: Service, Sendable {
    struct Entry {
        let device: Device?
        let until: ContinuousClock.Instant
    }

    let repository: any DeviceRepository
    let events: EventBus?
    let lifetime: Duration
    let maximumEntries: Int
    private let entries = NIOLockedValueBox([String: Entry]())
    /// Subscribed at once, so that no change announced before `run` starts is missed.
    private let firstChanges: AsyncStream<Event>?

    public init(repository: any DeviceRepository, events: EventBus?, lifetime: Duration = .seconds(60), maximumEntries: Int = 200_000) {
        self.repository = repository
        self.events = events
        self.lifetime = lifetime
        self.maximumEntries = maximumEntries
        firstChanges = events.map(Self.subscribe)
    }

    static func subscribe(_ bus: EventBus) -> AsyncStream<Event> {
        bus.subscribe(EventFilter(viewer: .everything, kinds: [.deviceCreated, .deviceChanged, .deviceDeleted]))
    }

    /// Drops the entries of devices as their changes are announced, until the platform stops.
    public func run() async throws {
        guard let events, let first = firstChanges else { return }
        await cancelWhenGracefulShutdown {
            var changes = first
            while !Task.isCancelled {
                for await event in changes { self.forget(event.device) }
                // The bus cuts off a subscriber that falls behind: what it missed is unknown, so
                // everything is looked up again.
                self.entries.withLockedValue { $0.removeAll() }
                changes = Self.subscribe(events)
            }
        }
    }

    /// The device, from memory or from the registry; nil when there is no such device.
    public func device(_ id: String) async throws -> Device? {
        let now = ContinuousClock.now
        if let entry = entries.withLockedValue({ $0[id] }), entry.until > now { return entry.device }
        let found = try await repository.find(id: id)
        remember(id, found, now: now)
        return found
    }

    /// What the caller has just written, so the next lookup needs no query.
    public func remember(_ device: Device) {
        remember(device.id, device, now: .now)
    }

    /// How many devices (and absent ids) are remembered.
    var count: Int { entries.withLockedValue { $0.count } }

    public func forget(_ id: String) {
        _ = entries.withLockedValue { $0.removeValue(forKey: id) }
    }

    private func remember(_ id: String, _ device: Device?, now: ContinuousClock.Instant) {
        entries.withLockedValue { entries in
            // Bounded: ids come from outside (topics, paths). Past the bound the expired entries
            // go, and if that is not enough, all of them: a cache, not a registry.
            if entries.count >= maximumEntries {
                entries = entries.filter { $0.value.until > now }
                if entries.count >= maximumEntries { entries.removeAll(keepingCapacity: true) }
            }
            entries[id] = Entry(device: device, until: now + lifetime)
        }
    }
}
