import CMCCore
import Foundation

/// The publications inside a DATEX II v2 (`d2LogicalModel`) or v3 (`messageContainer`, `payload`)
/// document, each known by the element it is, not by what a wrapper calls it.
public struct DATEXPublication {
    /// One publication: `ParkingTablePublication`, `ParkingFacilityTableStatusPublication`,
    /// `MeasuredDataPublication`...
    struct Part {
        var kind: String
        var element: XMLTree
    }

    /// The kind of the first publication: what a reader that finds nothing to read names.
    public var kind: String { parts[0].kind }
    /// Every publication the document holds (a generic publication may wrap several).
    public var kinds: [String] { parts.map(\.kind) }
    public let version: Int
    public let time: Timestamp?
    let parts: [Part]

    public init(data: Data) throws {
        let root = try XMLTree.parse(data)
        let version = root.attribute("modelBaseVersion").flatMap { Int($0) } ?? (root.name == "d2LogicalModel" ? 2 : 3)
        let payloads: [XMLTree]
        switch root.name {
        case "d2LogicalModel": payloads = root.children("payloadPublication")
        case "messageContainer": payloads = root.children("payload")
        case "payload", "payloadPublication": payloads = [root]
        default: throw FeedError("not a DATEX II document: the root element is \(root.name)")
        }
        var parts: [Part] = []
        for payload in payloads {
            guard let type = payload.type else { continue }
            guard type == "GenericPublication" else {
                parts.append(Part(kind: type, element: payload))
                continue
            }
            // National access points wrap publications in a generic one whose name is a label of
            // theirs ("ParkingFacilities", "MDM-Parken"...): the element inside says what it is.
            let inner = payload.child("genericPublicationExtension")?.children.filter { $0.name.hasSuffix("Publication") } ?? []
            if inner.isEmpty {
                parts.append(Part(kind: payload.value("genericPublicationName") ?? type, element: payload))
            } else {
                parts += inner.map { Part(kind: $0.name.prefix(1).uppercased() + $0.name.dropFirst(), element: $0) }
            }
        }
        guard !parts.isEmpty else { throw FeedError("DATEX II document without a typed payload publication") }
        self.version = version
        self.parts = parts
        time = payloads.lazy.compactMap { $0.value("publicationTime").flatMap(Timestamp.init(parsing:)) }.first
    }

    /// The publication of one of these kinds; fails naming what the document holds instead.
    func part(_ kinds: [String], reader: String) throws -> XMLTree {
        if let found = parts.first(where: { kinds.contains($0.kind) }) { return found.element }
        throw FeedError("the DATEX II document is a \(self.kinds.joined(separator: " and ")), which the \(reader) reader does not support: "
            + "it reads \(kinds.joined(separator: " or "))")
    }

    /// The elements of that name in any publication of the document.
    func all(_ name: String) -> [XMLTree] { parts.flatMap { $0.element.all(name) } }

    static func number(_ text: String?) -> Double? {
        text.flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }.flatMap { $0.isFinite ? $0 : nil }
    }

    /// A point's coordinates anywhere under `element` (v2 `pointCoordinates`, v3 `loc:` elements).
    static func point(in element: XMLTree?) -> (lat: Double, lon: Double)? {
        guard let element, let lat = number(element.first("latitude")?.text), let lon = number(element.first("longitude")?.text),
              (-90...90).contains(lat), (-180...180).contains(lon) else { return nil }
        return (lat, lon)
    }

    /// The first text of a multilingual `values/value` list.
    static func text(_ element: XMLTree?) -> String? { element?.value("value") }
}
