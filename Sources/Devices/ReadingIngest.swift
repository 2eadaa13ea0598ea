import CMCCore
import Events
import History

/// How a reading enters the platform, whichever way it came (REST, MQTT, CoAP, a feed): its
/// device is looked up, the reading is checked, recorded in History and announced. The callers
/// only speak their protocol, and count and answer refusals in it.
public struct ReadingIngest: Sendable {
    /// The one cache of the devices readings arrive for.
    public let lookup: DeviceLookup
    let store: Store
    let events: EventBus?

    enum Store: Sendable {
        case history(any HistoryClient)
        /// Concurrent writers sharing transactions (CoAP: one request per reading).
        case batched(ReadingBatcher)
    }

    public init(lookup: DeviceLookup, history: any HistoryClient, events: EventBus?) {
        self.lookup = lookup
        self.store = .history(history)
        self.events = events
    }

    /// The same ingest, its writes gathered by `batcher` (which its owner runs).
    public func batched(by batcher: ReadingBatcher) -> ReadingIngest {
        ReadingIngest(lookup: lookup, store: .batched(batcher), events: events)
    }

    init(lookup: DeviceLookup, store: Store, events: EventBus?) {
        self.lookup = lookup
        self.store = store
        self.events = events
    }

    public func device(_ id: String) async throws -> Device? {
        try await lookup.device(id)
    }

    /// The readings of a device's own payload (one reading or an array), checked. Throws a
    /// `DecodingError` for what is not a reading and an `APIError` naming the field that fails.
    public func readings(payload: [UInt8], of device: Device, now: Timestamp = .now()) throws -> [Reading] {
        try readings(ReadingBatch.decode(payload).readings, of: device, now: now)
    }

    /// Decoded readings, checked: values, names, size and clock.
    public func readings(_ inputs: [ReadingInput], of device: Device, now: Timestamp = .now()) throws -> [Reading] {
        try ReadingValidation.readings(inputs, device: device.id, category: device.category, connector: device.connector, now: now)
    }

    /// Records checked readings and, once durable, announces them if any was new: a feed read
    /// again, or a batch the broker sends again after a crash, is not news. `devices` holds each
    /// reading's device. Returns how many were new (a batched ingest counts them all).
    @discardableResult
    public func record(_ readings: [Reading], devices: [String: Device]) async throws -> Int {
        guard !readings.isEmpty else { return 0 }
        let stored: Int
        switch store {
        case .history(let history):
            stored = try await history.record(readings)
        case .batched(let batcher):
            try await batcher.store(readings)
            stored = readings.count
        }
        if stored > 0 { events?.publish(readings) { devices[$0] } }
        return stored
    }

    /// One device's readings: checked, recorded, announced.
    public func write(_ inputs: [ReadingInput], to device: Device) async throws -> (received: Int, stored: Int) {
        let readings = try readings(inputs, of: device)
        return (readings.count, try await record(readings, devices: [device.id: device]))
    }
}
