import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// An XML element with its children, by local name: DATEX II documents use different namespace
/// prefixes for the same elements, so readers match names without them.
public final class XMLTree: @unchecked Sendable {
    public let name: String
    public let attributes: [String: String]
    public private(set) var children: [XMLTree] = []
    public private(set) var text = ""

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    public static func parse(_ data: Data) throws -> XMLTree {
        let builder = Builder()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            let kind = FeedContent.describe(data)
            if !kind.hasPrefix("XML") { throw FeedError("not XML: it looks like \(kind)") }
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "no root element"
            throw FeedError("not well-formed XML (line \(parser.lineNumber)): \(reason)")
        }
        return root
    }

    /// The attribute by local name (`type` finds `xsi:type`).
    public func attribute(_ local: String) -> String? {
        if let value = attributes[local] { return value }
        return attributes.first { $0.key.hasSuffix(":" + local) }?.value
    }

    /// `xsi:type` without its prefix.
    public var type: String? { attribute("type").map { String($0.split(separator: ":").last ?? "") } }

    public func child(_ name: String) -> XMLTree? { children.first { $0.name == name } }

    public func children(_ name: String) -> [XMLTree] { children.filter { $0.name == name } }

    /// The first element of that name below this one, depth first.
    public func first(_ name: String) -> XMLTree? {
        for child in children {
            if child.name == name { return child }
            if let found = child.first(name) { return found }
        }
        return nil
    }

    /// Every element of that name below this one, not looking inside matches.
    public func all(_ name: String) -> [XMLTree] {
        var found: [XMLTree] = []
        for child in children {
            if child.name == name { found.append(child) } else { found += child.all(name) }
        }
        return found
    }

    /// Trimmed text of the element at a path of child names, e.g. `value(["parkingName", "values", "value"])`.
    public func value(_ path: String...) -> String? {
        var node: XMLTree? = self
        for name in path { node = node?.child(name) ?? node?.first(name) }
        let text = node?.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return text?.isEmpty == false ? text : nil
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLTree] = []
        var root: XMLTree?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            let local = String(elementName.split(separator: ":").last ?? Substring(elementName))
            let node = XMLTree(name: local, attributes: attributes)
            stack.last?.children.append(node)
            if stack.isEmpty { root = node }
            stack.append(node)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }
    }
}
