import CMCCore
import Foundation

/// Reads devices and observations from a plain JSON API by field paths, for municipal sources with
/// no standard format. Paths are dot-separated member names (`position.lat`); array indexes are numbers.
public struct JSONFieldMapping: Codable, Sendable, Equatable {
    /// Where the list of items is; missing for a top-level array or a single object.
    public var items: String?
    public var id: String
    public var name: String?
    public var lat: String?
    public var lon: String?
    /// Observation time: RFC 3339 or seconds since 1970. Missing: the time of the fetch.
    public var time: String?
    /// Reading field name -> path in the item.
    public var values: [String: String]
    /// Device metadata field name -> path in the item.
    public var metadata: [String: String]?

    public init(items: String? = nil, id: String, name: String? = nil, lat: String? = nil, lon: String? = nil, time: String? = nil,
                values: [String: String], metadata: [String: String]? = nil) {
        self.items = items
        self.id = id
        self.name = name
        self.lat = lat
        self.lon = lon
        self.time = time
        self.values = values
        self.metadata = metadata
    }

    public func read(_ data: Data, category: String, fetchedAt: Timestamp) throws -> FeedBatch {
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw FeedError(FeedContent.notJSON(data))
        }
        let found = items.map { Self.lookup($0, in: document) } ?? document
        let items: [JSONValue]
        switch found {
        case .array(let list)?: items = list
        // One entity per document (an NGSI-LD entity, say) when no item list is configured.
        case .object? where self.items == nil: items = [found!]
        default: throw FeedError("\(self.items ?? "the document") is not an array of items")
        }
        var batch = FeedBatch()
        for item in items {
            guard let id = Self.lookup(self.id, in: item).flatMap(Self.identifier) else {
                batch.skip("item without \(self.id)")
                continue
            }
            var device = FeedDevice(id: id, category: category, name: name.flatMap { Self.lookup($0, in: item) }?.text,
                                    lat: lat.flatMap { Self.lookup($0, in: item) }.flatMap(Self.number),
                                    lon: lon.flatMap { Self.lookup($0, in: item) }.flatMap(Self.number))
            for (field, path) in metadata ?? [:] { device.metadata[field] = Self.lookup(path, in: item) }
            batch.devices.append(device)
            var observed: [String: JSONValue] = [:]
            for (field, path) in values {
                guard let value = Self.lookup(path, in: item), value != .null else { continue }
                // Numbers published as strings ("12.5") are common in municipal APIs.
                if case .string(let text) = value, let number = Double(text) { observed[field] = .number(number) } else { observed[field] = value }
            }
            guard !observed.isEmpty else {
                batch.skip("item without values")
                continue
            }
            var time = fetchedAt
            if let path = self.time {
                guard let value = Self.lookup(path, in: item), let parsed = Timestamp(feedValue: value) else {
                    batch.skip("item without a valid \(path)")
                    continue
                }
                time = parsed
            }
            batch.observations.append(Observation(device: id, time: time, values: observed))
        }
        return batch
    }

    static func lookup(_ path: String, in value: JSONValue) -> JSONValue? {
        var current: JSONValue? = value
        for part in path.split(separator: ".") where !part.isEmpty {
            switch current {
            case .object(let members)?: current = members[String(part)]
            case .array(let elements)?:
                guard let index = Int(part), elements.indices.contains(index) else { return nil }
                current = elements[index]
            default: return nil
            }
        }
        return current
    }

    static func identifier(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text) where !text.isEmpty: text
        case .number(let n) where n.rounded() == n: String(Int64(n))
        default: nil
        }
    }

    static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .number(let n): n
        case .string(let text): Double(text)
        default: nil
        }
    }
}
