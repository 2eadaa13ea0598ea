import CMCCore

/// A registered thing: a parking camera, a traffic loop, a bus stop, an intercom...
public struct Device: Codable, Sendable, Equatable {
    /// The registered fields, in one object shared by every copy: a near answer copies each of its
    /// devices out of the grid while other queries copy the same ones, and one reference to count
    /// costs less than ten. A change makes a new object, without the old one's JSON.
    private final class Shared: Sendable {
        /// The device's JSON without distance and credentials, written once by `prewrite()`.
        /// First, so that it shares a cache line with the reference count: a near answer writes
        /// devices it has just copied (and counted), and the grid's devices are seldom in cache.
        let prewritten: PrewrittenObject?
        let fields: Fields

        init(_ fields: Fields, prewritten: PrewrittenObject? = nil) {
            self.fields = fields
            self.prewritten = prewritten
        }
    }

    private struct Fields: Codable, Sendable, Equatable {
        let id: String
        var category: String
        var connector: String
        var location: GeoPoint?
        var nickname: String?
        var `public`: Bool
        var metadata: [String: JSONValue]
        let ownerID: String
        let createdAt: Timestamp
        var updatedAt: Timestamp
    }

    private var shared: Shared
    /// Metres from the point of a `near` query. Answers give it to the millimetre; pages and
    /// cursors keep it whole, so that devices at nearly the same distance keep their order.
    public var distance: Double?
    static let distanceDecimals = 3
    /// The connector account, in the answer that created or renewed it only.
    public var credentials: DeviceCredentials?

    public init(id: String, category: String, connector: String, location: GeoPoint?, nickname: String?, public isPublic: Bool,
                metadata: [String: JSONValue], ownerID: String, createdAt: Timestamp, updatedAt: Timestamp, distance: Double? = nil) {
        shared = Shared(Fields(id: id, category: category, connector: connector, location: location, nickname: nickname, public: isPublic,
                               metadata: metadata, ownerID: ownerID, createdAt: createdAt, updatedAt: updatedAt))
        self.distance = distance
    }

    private mutating func change(_ body: (inout Fields) -> Void) {
        var fields = shared.fields
        body(&fields)
        shared = Shared(fields)
    }

    /// Unique, chosen by whoever registers it (a MAC address, a feed's station id...).
    public var id: String { shared.fields.id }
    public var category: String {
        get { shared.fields.category }
        set { change { $0.category = newValue } }
    }
    public var connector: String {
        get { shared.fields.connector }
        set { change { $0.connector = newValue } }
    }
    public var location: GeoPoint? {
        get { shared.fields.location }
        set { change { $0.location = newValue } }
    }
    public var nickname: String? {
        get { shared.fields.nickname }
        set { change { $0.nickname = newValue } }
    }
    /// Readable by every application and user, not only the owner.
    public var `public`: Bool {
        get { shared.fields.public }
        set { change { $0.public = newValue } }
    }
    public var metadata: [String: JSONValue] {
        get { shared.fields.metadata }
        set { change { $0.metadata = newValue } }
    }
    public var ownerID: String { shared.fields.ownerID }
    public var createdAt: Timestamp { shared.fields.createdAt }
    public var updatedAt: Timestamp {
        get { shared.fields.updatedAt }
        set { change { $0.updatedAt = newValue } }
    }

    /// Whether `prewrite()` wrote this device's JSON and nothing changed since.
    var isPrewritten: Bool { shared.prewritten != nil }

    enum ExtraKeys: String, CodingKey { case distance, credentials }

    public init(from decoder: any Decoder) throws {
        shared = Shared(try Fields(from: decoder))
        let extra = try decoder.container(keyedBy: ExtraKeys.self)
        distance = try extra.decodeIfPresent(Double.self, forKey: .distance)
        credentials = try extra.decodeIfPresent(DeviceCredentials.self, forKey: .credentials)
    }

    public func encode(to encoder: any Encoder) throws {
        try shared.fields.encode(to: encoder)
        var extra = encoder.container(keyedBy: ExtraKeys.self)
        try extra.encodeIfPresent(distance?.rounded(fractionDigits: Self.distanceDecimals), forKey: .distance)
        try extra.encodeIfPresent(credentials, forKey: .credentials)
    }

    public static func == (a: Device, b: Device) -> Bool {
        (a.shared === b.shared || a.shared.fields == b.shared.fields) && a.distance == b.distance && a.credentials == b.credentials
    }
}

/// Checks on the identifiers clients choose.
enum DeviceField {
    /// Ids such as MAC addresses (`AA:BB:CC:00:11:22`), feed ids (`gtfs:stop:123`) or UUIDs.
    static func id(_ value: String) throws -> String {
        guard (1...128).contains(value.utf8.count), value.utf8.allSatisfy({ c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 58 || c == 46 || c == 95 || c == 45
        }) else {
            throw APIError.invalid("id", "must be 1-128 letters, digits, ':', '.', '_' or '-'")
        }
        return value
    }

    /// Category and connector names: one lower-case word.
    static func word(_ value: String, field: String) throws -> String {
        guard (1...64).contains(value.utf8.count), value.utf8.allSatisfy({ c in
            (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || c == 95 || c == 45
        }) else {
            throw APIError.invalid(field, "must be one lower-case word of 1-64 letters, digits, '_' or '-' (e.g. parking, mqtt)")
        }
        return value
    }

    static func nickname(_ value: String?) throws -> String? {
        guard let value else { return nil }
        guard value.unicodeScalars.count <= 200 else { throw APIError.invalid("nickname", "must have at most 200 characters") }
        return value
    }

    static func metadata(_ value: [String: JSONValue]?) throws -> [String: JSONValue] {
        guard let value else { return [:] }
        guard JSONValue.encodeObject(value).utf8.count <= 16384 else { throw APIError.invalid("metadata", "must be at most 16 KiB of JSON") }
        return value
    }
}

extension Device: JSONWritable {
    /// The same document as the Codable form (sorted keys), written directly: device lists are the
    /// platform's largest answers.
    public func write(to writer: inout JSONWriter) {
        if credentials == nil, let prewritten = shared.prewritten {
            writer.object(prewritten) { $0.distance(distance) }
            return
        }
        writer.object { w in
            writeMembers(&w) { w in
                if let credentials {
                    w.key("credentials")
                    w.object { c in
                        if let clientID = credentials.clientID { c.key("clientId"); c.string(clientID) }
                        c.key("password"); c.string(credentials.password)
                        c.key("username"); c.string(credentials.username)
                    }
                }
                w.distance(distance)
            }
        }
    }

    /// Writes the JSON that `write(to:)` copies from then on: devices filed for near queries are
    /// written into many answers between two changes.
    mutating func prewrite() {
        let device = self
        shared = Shared(shared.fields, prewritten: PrewrittenObject { w in device.writeMembers(&w) { $0.markSlot() } })
    }

    /// Every member but credentials and distance, which `between` writes where sorted keys put them.
    private func writeMembers(_ w: inout JSONWriter, between: (inout JSONWriter) -> Void) {
        w.key("category"); w.string(category)
        w.key("connector"); w.string(connector)
        w.key("createdAt"); w.timestamp(createdAt)
        between(&w)
        w.key("id"); w.string(id)
        if let location {
            w.key("location")
            w.object { p in
                p.key("lat"); p.number(location.lat)
                p.key("lon"); p.number(location.lon)
            }
        }
        w.key("metadata"); w.object(metadata)
        w.member("nickname", nickname)
        w.key("ownerID"); w.string(ownerID)
        w.key("public"); w.bool(self.public)
        w.key("updatedAt"); w.timestamp(updatedAt)
    }
}

private extension JSONWriter {
    mutating func distance(_ metres: Double?) {
        guard let metres else { return }
        key("distance")
        number(metres, fractionDigits: Device.distanceDecimals)
    }
}
