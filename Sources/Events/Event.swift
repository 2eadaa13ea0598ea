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

    public init(kind: Kind, device: String, category: String, owner: String, isPublic: Bool, location: GeoPoint?,
                time: Timestamp = .now(), data: some JSONWritable) {
        self.kind = kind
        self.device = device
        self.category = category
        self.owner = owner
        self.isPublic = isPublic
        self.location = location
        self.time = time
        var writer = JSONWriter(capacity: 512)
        writer.object { w in
            w.key("category"); w.string(category)
            w.key("data"); data.write(to: &w)
            w.key("device"); w.string(device)
            w.key("time"); w.timestamp(time)
            w.key("type"); w.string(kind.rawValue)
        }
        json = writer.bytes
    }
}
