import CMCCore
import Foundation

/// An event as processes pass it to each other through the broker: a header line with what
/// subscribers filter and authorize on (owner, visibility, position) and the process it came
/// from, then the event's JSON as its process wrote it. The public topics (`cmc/events/...`)
/// carry the JSON alone, which says nothing of owners.
///
/// Only the platform's broker account may publish on the mesh topic; what arrives is still
/// checked, and what fails is refused whole (and counted by the reader).
public enum EventEnvelope {
    /// The largest envelope read: a reading's values are at most 64 KiB, a device's metadata too.
    public static let maximumBytes = 512 * 1024

    struct Header: Codable {
        var origin: String
        var kind: String
        var device: String
        var category: String
        var owner: String
        var `public`: Bool
        var time: Int64
        var location: GeoPoint?
    }

    public static func encode(_ event: Event, origin: String) -> [UInt8] {
        let header = Header(origin: origin, kind: event.kind.rawValue, device: event.device, category: event.category, owner: event.owner,
                            public: event.isPublic, time: event.time.microseconds, location: event.location)
        // Encoding plain strings, numbers and a position cannot fail.
        var bytes = [UInt8]((try? JSONEncoder().encode(header)) ?? Data())
        bytes.append(0x0A)
        bytes += event.json
        return bytes
    }

    public struct Refusal: Error, Equatable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// The event and the process it came from; a refusal says what was wrong.
    public static func decode(_ payload: [UInt8]) throws -> (event: Event, origin: String) {
        guard payload.count <= maximumBytes else { throw Refusal("larger than \(maximumBytes) bytes") }
        guard let newline = payload.firstIndex(of: 0x0A) else { throw Refusal("no header line") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(payload[..<newline]))
        } catch {
            throw Refusal("the header is not an event header")
        }
        guard let kind = Event.Kind(rawValue: header.kind) else { throw Refusal("unknown event type \(header.kind.prefix(40))") }
        for (name, value, limit) in [("origin", header.origin, 64), ("device", header.device, 256), ("category", header.category, 64), ("owner", header.owner, 128)] {
            guard !value.isEmpty || name == "owner", value.utf8.count <= limit else { throw Refusal("\(name) is empty or longer than \(limit) bytes") }
        }
        let json = Array(payload[payload.index(after: newline)...])
        // What subscribers are sent must be the one JSON object the other process wrote.
        guard json.first == UInt8(ascii: "{"), case .object? = try? JSONDecoder().decode(JSONValue.self, from: Data(json)) else {
            throw Refusal("the event is not a JSON object")
        }
        let event = Event(remote: kind, device: header.device, category: header.category, owner: header.owner, isPublic: header.public,
                          location: header.location, time: Timestamp(microseconds: header.time), json: json)
        return (event, header.origin)
    }
}
