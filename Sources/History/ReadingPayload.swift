import CMCCore

/// One reading as a device sends it: `{"ts"?, "values": {...}}`.
public struct ReadingInput: Decodable, Sendable {
    public let ts: Timestamp?
    public let values: [String: JSONValue]

    enum CodingKeys: String, CodingKey, CaseIterable { case ts, values }

    /// A reading a connector has already read from its own format (a feed's observation).
    public init(ts: Timestamp?, values: [String: JSONValue]) {
        self.ts = ts
        self.values = values
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ts = try c.decodeIfPresent(Timestamp.self, forKey: .ts)
        values = try c.decode([String: JSONValue].self, forKey: .values)
    }

    /// The same rules as `init(from:)`, on a parsed document.
    init(_ value: JSONValue, at path: [any CodingKey]) throws {
        func corrupted(_ key: String?, _ message: String) -> DecodingError {
            .dataCorrupted(.init(codingPath: path + (key.map { [AnyCodingKey(stringValue: $0)] } ?? []), debugDescription: message))
        }
        guard case .object(let fields) = value else {
            throw DecodingError.typeMismatch([String: JSONValue].self, .init(codingPath: path, debugDescription: "expected an object"))
        }
        for key in fields.keys where CodingKeys(stringValue: key) == nil {
            throw corrupted(key, "unknown field; expected one of \(CodingKeys.allCases.map(\.stringValue).sorted().joined(separator: ", "))")
        }
        switch fields["ts"] {
        case nil, .null?:
            ts = nil
        case .number(let seconds)?:
            guard seconds.isFinite, abs(seconds) < 1e11 else { throw corrupted("ts", "must be a time: seconds since 1970 out of range") }
            ts = Timestamp(seconds: seconds)
        case .string(let text)?:
            guard let parsed = Timestamp(parsing: text) else { throw corrupted("ts", "must be an RFC 3339 time such as 2026-01-31T12:00:00Z") }
            ts = parsed
        default:
            throw DecodingError.typeMismatch(String.self, .init(codingPath: path + [AnyCodingKey(stringValue: "ts")], debugDescription: "expected a time"))
        }
        switch fields["values"] {
        case .object(let values)?:
            self.values = values
        case nil:
            throw DecodingError.keyNotFound(AnyCodingKey(stringValue: "values"), .init(codingPath: path, debugDescription: "no values"))
        default:
            throw DecodingError.typeMismatch([String: JSONValue].self, .init(codingPath: path + [AnyCodingKey(stringValue: "values")], debugDescription: "expected an object"))
        }
    }
}

/// A single reading or an array of them.
public struct ReadingBatch: Decodable, Sendable {
    public let readings: [ReadingInput]

    /// Decodes a device's payload through `JSONValue(parsing:)`: connectors read one per message.
    /// Errors are the `DecodingError`s the `Decodable` path gives, so they read the same.
    public static func decode(_ payload: [UInt8]) throws -> ReadingBatch {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: payload)
        } catch let error as JSONParseError {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: error.description))
        }
        switch document {
        case .array(let items):
            return ReadingBatch(readings: try items.enumerated().map { index, item in
                try ReadingInput(item, at: [AnyCodingKey(intValue: index)!])
            })
        default:
            return ReadingBatch(readings: [try ReadingInput(document, at: [])])
        }
    }

    public init(readings: [ReadingInput]) { self.readings = readings }

    public init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var readings: [ReadingInput] = []
            while !array.isAtEnd { readings.append(try array.decode(ReadingInput.self)) }
            self.readings = readings
        } else {
            self.readings = [try ReadingInput(from: decoder)]
        }
    }
}
