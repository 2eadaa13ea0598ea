import CMCCore

/// A registered thing: a parking camera, a traffic loop, a bus stop, an intercom...
public struct Device: Codable, Sendable, Equatable {
    /// Unique, chosen by whoever registers it (a MAC address, a feed's station id...).
    public let id: String
    public var category: String
    public var connector: String
    public var location: GeoPoint?
    public var nickname: String?
    /// Readable by every application and user, not only the owner.
    public var `public`: Bool
    public var metadata: [String: JSONValue]
    public let ownerID: String
    public let createdAt: Timestamp
    public var updatedAt: Timestamp
    /// Metres from the point of a `near` query.
    public var distance: Double?
    /// The connector account, in the answer that created or renewed it only.
    public var credentials: DeviceCredentials?

    public init(id: String, category: String, connector: String, location: GeoPoint?, nickname: String?, public isPublic: Bool,
                metadata: [String: JSONValue], ownerID: String, createdAt: Timestamp, updatedAt: Timestamp, distance: Double? = nil) {
        self.id = id
        self.category = category
        self.connector = connector
        self.location = location
        self.nickname = nickname
        self.public = isPublic
        self.metadata = metadata
        self.ownerID = ownerID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.distance = distance
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
        guard value.count <= 200 else { throw APIError.invalid("nickname", "must have at most 200 characters") }
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
        writer.object { w in
            w.key("category"); w.string(category)
            w.key("connector"); w.string(connector)
            w.key("createdAt"); w.timestamp(createdAt)
            if let credentials {
                w.key("credentials")
                w.object { c in
                    c.key("password"); c.string(credentials.password)
                    c.key("username"); c.string(credentials.username)
                }
            }
            w.member("distance", distance)
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
}
