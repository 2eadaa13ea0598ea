import CMCCore
import Events
import History

extension Event {
    /// A device registered, changed or removed; its connector password never travels in events.
    public init(_ kind: Kind, device: Device) {
        var data = device
        data.credentials = nil
        data.distance = nil
        self.init(kind, of: device, data: data)
    }

    public init(reading: Reading, of device: Device) {
        self.init(.reading, of: device, data: reading)
    }

    private init(_ kind: Kind, of device: Device, data: some JSONWritable) {
        self.init(kind: kind, device: device.id, category: device.category, owner: device.ownerID, isPublic: device.public,
                  location: device.location, data: data)
    }
}

extension EventBus {
    /// Announces stored readings; `devices` gives each reading's device.
    public func publish(_ readings: [Reading], devices: (String) -> Device?) {
        guard subscriberCount > 0 else { return }
        publish(readings.compactMap { reading in devices(reading.device).map { Event(reading: reading, of: $0) } })
    }
}
