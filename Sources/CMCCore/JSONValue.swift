import Foundation

/// Free-form JSON, for device metadata and reading values.
public enum JSONValue: Hashable, Sendable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Numbers first: they are most of what devices send.
        if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            // Whole numbers print without ".0" so counts read as counts.
            if value.rounded() == value, abs(value) < 9e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    public var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// Canonical text form, as stored in the database.
    /// The same text as `JSONCoding.encoder` (sorted keys), written directly: this runs for every
    /// reading stored.
    public static func encodeObject(_ object: [String: JSONValue]) -> String {
        var writer = JSONWriter(capacity: 64)
        writer.object(object)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    public static func decodeObject(_ text: String) -> [String: JSONValue] {
        if text == "{}" { return [:] }
        guard case .object(let object)? = try? JSONValue(parsing: text) else { return [:] }
        return object
    }
}

extension JSONValue {
    /// About how many bytes the value takes written as JSON (escapes aside), to bound answers
    /// without writing them twice.
    public var approximateSize: Int {
        switch self {
        case .null, .bool: return 5
        case .number: return 24
        case .string(let text): return text.utf8.count + 2
        case .array(let items): return items.reduce(2) { $0 + $1.approximateSize + 1 }
        case .object(let members): return Self.approximateSize(of: members)
        }
    }

    public static func approximateSize(of members: [String: JSONValue]) -> Int {
        members.reduce(2) { $0 + $1.key.utf8.count + 4 + $1.value.approximateSize }
    }
}
