import CMCCore

/// Something that happened to a device: it was registered, changed or removed, or it sent a
/// reading. Carries what subscribers filter on and what authorizes them, and its JSON body
/// written once for every subscriber.
public struct Event: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case deviceCreated = "device.created"
        case deviceChanged = "device.changed"
        case deviceDeleted = "device.deleted"
        case reading
    }

    public let kind: Kind
    public let device: String
    public let category: String
    public let owner: String
    public let isPublic: Bool
    public let location: GeoPoint?
    public let time: Timestamp
    /// `{"type", "device", "category", "time", "data"}`, `data` being the device or the reading.
    public let json: [UInt8]
    /// Heard from another process through the event mesh: delivered to this process's
    /// subscribers, but not published or delivered again by it (its own process did that).
    public let remote: Bool

    public init(kind: Kind, device: String, category: String, owner: String, isPublic: Bool, location: GeoPoint?,
                time: Timestamp = .now(), data: some JSONWritable) {
        var writer = JSONWriter(capacity: 512)
        writer.object { w in
            w.key("category"); w.string(category)
            w.key("data"); data.write(to: &w)
            w.key("device"); w.string(device)
            w.key("time"); w.timestamp(time)
            w.key("type"); w.string(kind.rawValue)
        }
        self.init(kind: kind, device: device, category: category, owner: owner, isPublic: isPublic, location: location, time: time,
                  json: writer.bytes, remote: false)
    }

    /// An event as another process announced it, its JSON as that process wrote it.
    public init(remote kind: Kind, device: String, category: String, owner: String, isPublic: Bool, location: GeoPoint?,
                time: Timestamp, json: [UInt8]) {
        self.init(kind: kind, device: device, category: category, owner: owner, isPublic: isPublic, location: location, time: time,
                  json: json, remote: true)
    }

    private init(kind: Kind, device: String, category: String, owner: String, isPublic: Bool, location: GeoPoint?,
                 time: Timestamp, json: [UInt8], remote: Bool) {
        self.kind = kind
        self.device = device
        self.category = category
        self.owner = owner
        self.isPublic = isPublic
        self.location = location
        self.time = time
        self.json = json
        self.remote = remote
    }
}
