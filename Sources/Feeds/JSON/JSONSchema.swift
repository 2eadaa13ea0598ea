import CMCCore
import Foundation

/// A JSON Schema (draft 7) check of the keywords feed schemas use: type, properties, required,
/// patternProperties, additionalProperties, items, minItems, maxItems, contains, enum, const, minimum, maximum,
/// pattern, minLength, maxLength, anyOf, allOf, oneOf, not, if/then/else and the date-time format.
/// Other keywords are annotations here. Errors name the JSON path that failed.
public struct JSONSchema: Sendable {
    let root: JSONValue

    public init(_ schema: JSONValue) { root = schema }

    public init(data: Data) throws {
        self.init(try JSONDecoder().decode(JSONValue.self, from: data))
    }

    /// The schema of the entries of the list `name` in the document's `data` object, as GBFS files
    /// have one: nil when the schema does not say.
    func items(of name: String) -> JSONSchema? {
        guard case .object(let s) = root, case .object(let properties)? = s["properties"], case .object(let data)? = properties["data"],
              case .object(let fields)? = data["properties"], case .object(let list)? = fields[name], let items = list["items"] else { return nil }
        return JSONSchema(items)
    }

    /// The first few violations, each as "path: what is wrong"; empty when the document conforms.
    public func violations(of value: JSONValue, limit: Int = 5) -> [String] {
        var found: [String] = []
        check(value, against: root, path: "$", into: &found, limit: limit)
        return found
    }

    private func check(_ value: JSONValue, against schema: JSONValue, path: String, into found: inout [String], limit: Int) {
        guard found.count < limit else { return }
        guard case .object(let s) = schema else {
            if case .bool(false) = schema { found.append("\(path): is not allowed here") }
            return
        }
        func fail(_ message: String) { if found.count < limit { found.append("\(path): \(message)") } }
        func passes(_ sub: JSONValue) -> Bool {
            var scratch: [String] = []
            check(value, against: sub, path: path, into: &scratch, limit: 1)
            return scratch.isEmpty
        }

        if let type = s["type"] {
            let allowed: [String]
            switch type {
            case .string(let name): allowed = [name]
            case .array(let names): allowed = names.compactMap { if case .string(let n) = $0 { n } else { nil } }
            default: allowed = []
            }
            if !allowed.isEmpty, !allowed.contains(where: { Self.value(value, isA: $0) }) {
                fail("must be \(allowed.joined(separator: " or ")), found \(Self.kind(value))")
                return
            }
        }
        if let options = s["enum"], case .array(let values) = options, !values.contains(where: { Self.equal($0, value) }) {
            fail("must be one of \(values.map(Self.describe).joined(separator: ", ")), found \(Self.describe(value))")
        }
        if let constant = s["const"], !Self.equal(constant, value) {
            fail("must be \(Self.describe(constant)), found \(Self.describe(value))")
        }
        switch value {
        case .number(let number):
            if let minimum = s["minimum"]?.number, number < minimum { fail("must be at least \(Self.describe(.number(minimum))), found \(Self.describe(value))") }
            if let maximum = s["maximum"]?.number, number > maximum { fail("must be at most \(Self.describe(.number(maximum))), found \(Self.describe(value))") }
            if let minimum = s["exclusiveMinimum"]?.number, number <= minimum { fail("must be above \(Self.describe(.number(minimum)))") }
            if let maximum = s["exclusiveMaximum"]?.number, number >= maximum { fail("must be below \(Self.describe(.number(maximum)))") }
        case .string(let text):
            if let minimum = s["minLength"]?.number, Double(text.count) < minimum { fail("must have at least \(Int(minimum)) characters") }
            if let maximum = s["maxLength"]?.number, Double(text.count) > maximum { fail("must have at most \(Int(maximum)) characters") }
            if case .string(let pattern)? = s["pattern"], let regex = try? NSRegularExpression(pattern: pattern),
               regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
                fail("must match \(pattern), found \(Self.describe(value))")
            }
            if case .string("date-time")? = s["format"], Timestamp(parsing: text) == nil || Double(text) != nil {
                fail("must be an RFC 3339 date-time, found \(Self.describe(value))")
            }
        case .array(let items):
            if let minimum = s["minItems"]?.number, Double(items.count) < minimum { fail("must have at least \(Int(minimum)) items") }
            if let maximum = s["maxItems"]?.number, Double(items.count) > maximum { fail("must have at most \(Int(maximum)) items") }
            if let itemSchema = s["items"] {
                for (index, item) in items.enumerated() { check(item, against: itemSchema, path: "\(path)[\(index)]", into: &found, limit: limit) }
            }
            if let contains = s["contains"], !items.contains(where: { item in
                var scratch: [String] = []
                check(item, against: contains, path: path, into: &scratch, limit: 1)
                return scratch.isEmpty
            }) {
                fail("has no item of the required kind")
            }
        case .object(let members):
            if case .array(let required)? = s["required"] {
                for case .string(let name) in required where members[name] == nil { fail("\(name) is required") }
            }
            var properties: [String: JSONValue] = [:]
            if case .object(let p)? = s["properties"] { properties = p }
            var patterns: [(NSRegularExpression, JSONValue)] = []
            if case .object(let p)? = s["patternProperties"] {
                patterns = p.compactMap { key, schema in (try? NSRegularExpression(pattern: key)).map { ($0, schema) } }
            }
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                let matching = patterns.filter { $0.0.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil }
                if let property = properties[name] {
                    check(member, against: property, path: "\(path).\(name)", into: &found, limit: limit)
                }
                for (_, schema) in matching { check(member, against: schema, path: "\(path).\(name)", into: &found, limit: limit) }
                if properties[name] != nil || !matching.isEmpty { continue }
                if let additional = s["additionalProperties"] {
                    if case .bool(false) = additional { fail("\(name) is not an allowed member") } else {
                        check(member, against: additional, path: "\(path).\(name)", into: &found, limit: limit)
                    }
                }
            }
        default:
            break
        }
        if case .array(let all)? = s["allOf"] { for sub in all { check(value, against: sub, path: path, into: &found, limit: limit) } }
        if case .array(let any)? = s["anyOf"], !any.contains(where: passes) {
            fail(Self.message(any) ?? "matches none of the allowed forms")
        }
        if case .array(let one)? = s["oneOf"], one.filter(passes).count != 1 { fail("must match exactly one of the allowed forms") }
        if let not = s["not"], passes(not) { fail("is not allowed here") }
        if let condition = s["if"] {
            if passes(condition) {
                if let then = s["then"] { check(value, against: then, path: path, into: &found, limit: limit) }
            } else if let otherwise = s["else"] {
                check(value, against: otherwise, path: path, into: &found, limit: limit)
            }
        }
    }

    /// The schemas' own `errorMessage`s, when they give them.
    private static func message(_ alternatives: [JSONValue]) -> String? {
        let messages = alternatives.compactMap { alternative -> String? in
            if case .object(let members) = alternative, case .string(let text)? = members["errorMessage"] { return text }
            return nil
        }
        return messages.isEmpty ? nil : messages.joined(separator: " / ")
    }

    static func value(_ value: JSONValue, isA type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string), ("array", .array), ("object", .object): true
        case ("integer", .number(let n)): n.rounded() == n
        default: false
        }
    }

    static func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool { a == b }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): "\"\(text.prefix(60))\""
        case .number(let n): n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .bool(let b): String(b)
        case .null: "null"
        default: kind(value)
        }
    }
}
