import Foundation
import CMCCore

/// `POST /devices`.
struct DeviceRegistration: Decodable {
    let id: String
    let category: String
    let connector: String
    let location: GeoPoint?
    let nickname: String?
    let isPublic: Bool
    let metadata: [String: JSONValue]?

    enum CodingKeys: String, CodingKey, CaseIterable { case id, category, connector, location, nickname, `public`, metadata }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try DeviceField.id(try c.decode(String.self, forKey: .id))
        category = try DeviceField.word(try c.decode(String.self, forKey: .category), field: "category")
        connector = try DeviceField.word(try c.decode(String.self, forKey: .connector), field: "connector")
        location = try c.decodeIfPresent(GeoPoint.self, forKey: .location)
        nickname = try DeviceField.nickname(try c.decodeIfPresent(String.self, forKey: .nickname))
        isPublic = try c.decodeIfPresent(Bool.self, forKey: .public) ?? false
        metadata = try c.decodeIfPresent([String: JSONValue].self, forKey: .metadata)
    }
}

/// `PATCH /devices/{id}`: absent fields stay, `null` clears `location` and `nickname`.
struct DevicePatch: Decodable {
    var category: String?
    var connector: String?
    var location: GeoPoint??
    var nickname: String??
    var isPublic: Bool?
    var metadata: [String: JSONValue]?

    typealias CodingKeys = DeviceRegistration.CodingKeys

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.id) { throw APIError.invalid("id", "cannot be changed; register a new device instead") }
        category = try c.decodeIfPresent(String.self, forKey: .category).map { try DeviceField.word($0, field: "category") }
        connector = try c.decodeIfPresent(String.self, forKey: .connector).map { try DeviceField.word($0, field: "connector") }
        if c.contains(.location) { location = .some(try c.decodeNil(forKey: .location) ? nil : try c.decode(GeoPoint.self, forKey: .location)) }
        if c.contains(.nickname) {
            nickname = .some(try c.decodeNil(forKey: .nickname) ? nil : try DeviceField.nickname(try c.decode(String.self, forKey: .nickname)))
        }
        isPublic = try c.decodeIfPresent(Bool.self, forKey: .public)
        metadata = try c.decodeIfPresent([String: JSONValue].self, forKey: .metadata)
    }

    func apply(to device: inout Device) throws {
        if let category { device.category = category }
        if let connector { device.connector = connector }
        if let location { device.location = location }
        if let nickname { device.nickname = nickname }
        if let isPublic { device.public = isPublic }
        if let metadata { device.metadata = try DeviceField.metadata(metadata) }
    }
}
