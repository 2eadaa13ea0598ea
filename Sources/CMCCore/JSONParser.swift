/// A JSON text (RFC 8259) read straight into `JSONValue`, for the paths that read one per device
/// message or stored row: Foundation's `JSONDecoder` builds an intermediate tree and a `Decoder`
/// around it, several times the work for documents this small.
public struct JSONParseError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// Byte offset where reading stopped.
    public let offset: Int

    public var description: String { "\(message) at byte \(offset)" }
}

extension JSONValue {
    /// How deep documents may nest: arrays and objects inside each other.
    public static var maximumDepth: Int { JSONParser.maximumDepth }

    /// Parses a whole JSON text; nesting deeper than 256 levels is refused.
    public init(parsing bytes: some Collection<UInt8>) throws {
        let parsed = try bytes.withContiguousStorageIfAvailable { buffer in
            var parser = JSONParser(buffer)
            return try parser.document()
        }
        if let parsed {
            self = parsed
        } else {
            let copy = Array(bytes)
            self = try copy.withUnsafeBufferPointer { buffer in
                var parser = JSONParser(buffer)
                return try parser.document()
            }
        }
    }

    public init(parsing text: String) throws {
        var text = text
        self = try text.withUTF8 { buffer in
            var parser = JSONParser(buffer)
            return try parser.document()
        }
    }

    /// One element of the array held by member `name` of a JSON object text, the one `choose`
    /// picks from the array's length (0..<count); nil when there is no such array or it is empty.
    /// The whole text is checked, but only the chosen element is built: a client that takes one
    /// item of a long list reads it for a fraction of the cost of the whole tree.
    public static func element(ofArray name: String, in bytes: some Collection<UInt8>, choose: (Int) -> Int) throws -> JSONValue? {
        func read(_ buffer: UnsafeBufferPointer<UInt8>) throws -> JSONValue? {
            var parser = JSONParser(buffer)
            let starts = try parser.elementStarts(ofArray: name)
            guard !starts.isEmpty else { return nil }
            let chosen = choose(starts.count)
            precondition(starts.indices.contains(chosen), "choose must answer an index below the count it is given")
            parser.index = starts[chosen]
            return try parser.value()
        }
        if let read = try bytes.withContiguousStorageIfAvailable(read) { return read }
        return try Array(bytes).withUnsafeBufferPointer(read)
    }
}

struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0
    static let maximumDepth = 256

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func document() throws -> JSONValue {
        skipWhitespace()
        let value = try self.value()
        skipWhitespace()
        guard index == bytes.count else { throw failure("unexpected data after the JSON value") }
        return value
    }

    /// Reads a whole object text without building it, and answers where each element of the
    /// array under member `name` begins (the first such member counts, as in `object()`).
    mutating func elementStarts(ofArray name: String) throws -> [Int] {
        var starts: [Int] = []
        var found = false
        skipWhitespace()
        guard index < bytes.count else { throw failure("unexpected end of JSON") }
        guard bytes[index] == UInt8(ascii: "{") else { throw failure("expected an object") }
        try members(readingNames: true) { parser, key in
            if !found, key == name, parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "[") {
                found = true
                try parser.elements { parser in
                    starts.append(parser.index)
                    try parser.skipValue()
                }
            } else {
                try parser.skipValue()
            }
        }
        skipWhitespace()
        guard index == bytes.count else { throw failure("unexpected data after the JSON value") }
        return starts
    }

    /// Checks a value's syntax and steps over it; strings' escapes and UTF-8 are checked only
    /// when a string is read.
    mutating func skipValue() throws {
        guard index < bytes.count else { throw failure("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"): try members(readingNames: false) { parser, _ in try parser.skipValue() }
        case UInt8(ascii: "["): try elements { parser in try parser.skipValue() }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try scanNumber()
        default: throw failure("unexpected character")
        }
    }

    /// Walks an object from its `{`; `member` reads or steps over each value, given its member's
    /// name when `readingNames` (nil otherwise: names are then only checked).
    mutating func members(readingNames: Bool, _ member: (inout JSONParser, String?) throws -> Void) throws {
        try enter()
        defer { depth -= 1 }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end of JSON") }
            guard bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a member name in quotes") }
            let key: String?
            if readingNames { key = try string() } else { try skipString(); key = nil }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':' after a member name") }
            index += 1
            skipWhitespace()
            try member(&self, key)
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end of JSON") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return
            default: throw failure("expected ',' or '}' in an object")
            }
        }
    }

    /// Walks an array from its `[`; `element` reads or steps over each value.
    mutating func elements(_ element: (inout JSONParser) throws -> Void) throws {
        try enter()
        defer { depth -= 1 }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end of JSON") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return
            default: throw failure("expected ',' or ']' in an array")
            }
        }
    }

    mutating func skipString() throws {
        index += 1  // the opening quote
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""): index += 1; return
            case UInt8(ascii: "\\"): index += 2
            case 0..<0x20: throw failure("control character in a string")
            default: index += 1
            }
        }
        throw failure("unterminated string")
    }

    func failure(_ message: String) -> JSONParseError { JSONParseError(message: message, offset: index) }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func value() throws -> JSONValue {
        guard index < bytes.count else { throw failure("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw failure("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw failure("unexpected end of JSON") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
            throw failure("unexpected character")
        }
        index += count
    }

    mutating func enter() throws {
        depth += 1
        guard depth <= Self.maximumDepth else { throw failure("nested too deeply") }
    }

    mutating func object() throws -> JSONValue {
        var values: [String: JSONValue] = [:]
        try members(readingNames: true) { parser, key in
            let value = try parser.value()
            // The first of repeated names counts, as with Foundation's decoder on the REST paths.
            if values[key!] == nil { values[key!] = value }
        }
        return .object(values)
    }

    mutating func array() throws -> JSONValue {
        var values: [JSONValue] = []
        try elements { parser in values.append(try parser.value()) }
        return .array(values)
    }

    mutating func string() throws -> String {
        index += 1  // the opening quote
        let start = index
        var bits: UInt8 = 0
        // Most strings have no escape: one pass to find the end, one copy.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                defer { index += 1 }
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
                // ASCII is UTF-8 already: no validation needed.
                return bits < 0x80 ? String(decoding: raw, as: UTF8.self) : try text(raw)
            }
            bits |= byte
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw failure("control character in a string") }
            index += 1
        }
        var unescaped = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return try unescaped.withUnsafeBufferPointer { try text($0) }
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw failure("unexpected end of JSON") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): unescaped.append(escape)
                case UInt8(ascii: "b"): unescaped.append(0x08)
                case UInt8(ascii: "f"): unescaped.append(0x0C)
                case UInt8(ascii: "n"): unescaped.append(0x0A)
                case UInt8(ascii: "r"): unescaped.append(0x0D)
                case UInt8(ascii: "t"): unescaped.append(0x09)
                case UInt8(ascii: "u"): try unicodeEscape(into: &unescaped)
                default: throw failure("unknown escape in a string")
                }
            default:
                guard byte >= 0x20 else { throw failure("control character in a string") }
                unescaped.append(byte)
                index += 1
            }
        }
        throw failure("unterminated string")
    }

    /// `\uXXXX`, a UTF-16 unit: surrogates must come in pairs.
    mutating func unicodeEscape(into out: inout [UInt8]) throws {
        var scalar = try hexQuad()
        if (0xD800...0xDBFF).contains(scalar) {
            guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw failure("unpaired surrogate in a string")
            }
            index += 2
            let low = try hexQuad()
            guard (0xDC00...0xDFFF).contains(low) else { throw failure("unpaired surrogate in a string") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(scalar) {
            throw failure("unpaired surrogate in a string")
        }
        out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
    }

    mutating func hexQuad() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard index < bytes.count else { throw failure("unexpected end of JSON") }
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("bad \\u escape in a string")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    func text(_ buffer: UnsafeBufferPointer<UInt8>) throws -> String {
        guard let text = String(validating: buffer, as: UTF8.self) else { throw failure("string is not valid UTF-8") }
        return text
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    mutating func number() throws -> Double {
        let (start, integerStart, whole) = try scanNumber()
        // Whole numbers of up to 15 digits are exact in a Double: no need for the general parser.
        if whole, index - integerStart <= 15 {
            var value: Int64 = 0
            for position in integerStart..<index { value = value * 10 + Int64(bytes[position] - UInt8(ascii: "0")) }
            return bytes[start] == UInt8(ascii: "-") ? -Double(value) : Double(value)
        }
        guard let value = Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)), value.isFinite else {
            throw JSONParseError(message: "number out of range", offset: start)
        }
        return value
    }

    /// Steps over a number, answering where it and its integer part begin and whether it has
    /// neither fraction nor exponent.
    mutating func scanNumber() throws -> (start: Int, integerStart: Int, whole: Bool) {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        guard index < bytes.count, isDigit(bytes[index]) else { throw failure("expected a digit") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        var whole = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            whole = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure("expected a digit after '.'") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            whole = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure("expected a digit in an exponent") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return (start, integerStart, whole)
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
