import NIOCore

/// Writes JSON bytes directly, for the answers that carry many items (device lists, history):
/// Foundation's `JSONEncoder` cost more than the database query there.
public struct JSONWriter {
    /// The answer's body as it is sent: no copy between writing and the socket.
    public private(set) var buffer: ByteBuffer
    public var bytes: [UInt8] { Array(buffer.readableBytesView) }
    /// The next key or value at this level follows a sibling and needs a comma.
    private var needsComma = false
    /// A key was just written; its value needs no comma.
    private var afterKey = false
    /// Where `markSlot()` was called, for `PrewrittenObject`.
    fileprivate var slot: Int?

    public init(capacity: Int = 4096) { buffer = ByteBufferAllocator().buffer(capacity: capacity) }

    private mutating func beginValue() {
        if afterKey {
            afterKey = false
        } else if needsComma {
            buffer.writeInteger(UInt8(ascii: ","))
        }
    }

    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        beginValue()
        buffer.writeInteger(UInt8(ascii: "{"))
        needsComma = false
        body(&self)
        buffer.writeInteger(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func array<S: Sequence>(_ items: S, _ body: (inout JSONWriter, S.Element) -> Void) {
        beginValue()
        buffer.writeInteger(UInt8(ascii: "["))
        needsComma = false
        for item in items { body(&self, item) }
        buffer.writeInteger(UInt8(ascii: "]"))
        needsComma = true
    }

    /// A member's name from data (a device id, a group); exactly one value method follows.
    public mutating func key(named key: String) {
        if needsComma { buffer.writeInteger(UInt8(ascii: ",")) }
        writeString(key)
        buffer.writeInteger(UInt8(ascii: ":"))
        afterKey = true
    }

    /// A member's name written in the code, copied as it is: such names need no escaping, and a
    /// list of a hundred devices writes well over a thousand of them.
    public mutating func key(_ key: StaticString) {
        if needsComma { buffer.writeInteger(UInt8(ascii: ",")) }
        buffer.writeInteger(UInt8(ascii: "\""))
        key.withUTF8Buffer { name in
            assert(!name.contains(where: Self.needsEscape), "\(key) needs escaping")
            buffer.writeBytes(name)
        }
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeInteger(UInt8(ascii: ":"))
        afterKey = true
    }

    /// Copies an object written earlier, with the members `insert` writes at its slot: the rest
    /// of the object is copied as it is.
    public mutating func object(_ prewritten: PrewrittenObject, inserting insert: (inout JSONWriter) -> Void) {
        beginValue()
        prewritten.bytes.withUnsafeBufferPointer { written in
            buffer.writeBytes(UnsafeBufferPointer(rebasing: written[..<prewritten.slot]))
            // The slot follows a member, so whatever is inserted there starts with a comma.
            needsComma = true
            insert(&self)
            buffer.writeBytes(UnsafeBufferPointer(rebasing: written[prewritten.slot...]))
        }
        needsComma = true
    }

    /// Marks where a `PrewrittenObject` takes the members inserted into each copy; it follows a
    /// member of the object, never its opening brace.
    public mutating func markSlot() {
        precondition(needsComma && !afterKey, "a slot follows a member")
        slot = buffer.writerIndex
    }

    public mutating func string(_ value: String) { beginValue(); writeString(value); needsComma = true }
    /// A time as RFC 3339 text, printed straight into the answer.
    public mutating func timestamp(_ value: Timestamp) {
        beginValue()
        buffer.writeInteger(UInt8(ascii: "\""))
        let written = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: RFC3339.fixedLength) { space in
            RFC3339.write(value.microseconds, into: UnsafeMutableBufferPointer(start: space.baseAddress!.assumingMemoryBound(to: UInt8.self), count: RFC3339.fixedLength)) ?? 0
        }
        if written == 0 { buffer.writeString(value.description) }
        buffer.writeInteger(UInt8(ascii: "\""))
        needsComma = true
    }

    public mutating func bool(_ value: Bool) { raw(value ? "true" : "false") }
    public mutating func null() { raw("null") }
    public mutating func int(_ value: Int64) { raw(String(value)) }

    /// Whole numbers print as integers, like `JSONValue`'s Codable form.
    public mutating func number(_ value: Double) {
        if value.rounded() == value, abs(value) < 9e15 {
            raw(String(Int64(value)))
        } else if value.isFinite {
            raw(value.description)
        } else {
            raw("null")
        }
    }

    /// A number rounded to `fractionDigits` decimals, as the Codable form writes
    /// `value.rounded(fractionDigits:)`: printed from an integer, without the shortest-form search
    /// and the string that `description` costs for every device of a near answer.
    public mutating func number(_ value: Double, fractionDigits: Int) {
        let scale = Double.powerOfTen(fractionDigits)
        let scaled = (value * scale).rounded()
        // Below 2⁵² (with a margin) doubles are closer together than the last decimal kept, so the
        // decimal printed is the shortest that reads back as the rounded value.
        guard scaled.isFinite, abs(scaled) < 4e15 else { return number(value.rounded(fractionDigits: fractionDigits)) }
        beginValue()
        if scaled < 0 { buffer.writeInteger(UInt8(ascii: "-")) }
        let magnitude = Int64(scaled).magnitude, divisor = UInt64(scale)
        var whole = magnitude / divisor, fraction = magnitude % divisor, width = fractionDigits
        // Trailing zeros of the fraction are left out, as in the shortest form.
        while width > 0, fraction % 10 == 0 { fraction /= 10; width -= 1 }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { digits in
            var start = digits.count
            for _ in 0..<width { start -= 1; digits[start] = UInt8(ascii: "0") + UInt8(fraction % 10); fraction /= 10 }
            if width > 0 { start -= 1; digits[start] = UInt8(ascii: ".") }
            repeat { start -= 1; digits[start] = UInt8(ascii: "0") + UInt8(whole % 10); whole /= 10 } while whole > 0
            buffer.writeBytes(UnsafeBufferPointer(rebasing: digits[start...]))
        }
        needsComma = true
    }

    private mutating func raw(_ text: String) {
        beginValue()
        buffer.writeString(text)
        needsComma = true
    }

    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let v): bool(v)
        case .number(let v): number(v)
        case .string(let v): string(v)
        case .array(let items): array(items) { writer, item in writer.value(item) }
        case .object(let members): object(members)
        }
    }

    /// An object with sorted keys, as `JSONCoding.encoder` writes it.
    public mutating func object(_ members: [String: JSONValue]) {
        object { writer in
            for name in members.keys.sorted() {
                writer.key(named: name)
                writer.value(members[name]!)
            }
        }
    }

    public mutating func member(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    public mutating func member(_ name: StaticString, _ value: Double?) {
        guard let value else { return }
        key(name)
        number(value)
    }

    private mutating func writeString(_ string: String) {
        var string = string
        string.withUTF8 { utf8 in
            buffer.writeInteger(UInt8(ascii: "\""))
            // Most strings (keys, ids, categories, times) need no escaping: copy them whole.
            var start = 0
            for (index, byte) in utf8.enumerated() where Self.needsEscape(byte) {
                buffer.writeBytes(UnsafeBufferPointer(rebasing: utf8[start..<index]))
                appendEscaped(byte)
                start = index + 1
            }
            buffer.writeBytes(UnsafeBufferPointer(rebasing: utf8[start...]))
            buffer.writeInteger(UInt8(ascii: "\""))
        }
    }

    /// Control characters, the quote and the backslash; everything else is written as it is.
    private static func needsEscape(_ byte: UInt8) -> Bool { byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") }

    private mutating func appendEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): buffer.writeBytes([UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): buffer.writeBytes([UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case UInt8(ascii: "\n"): buffer.writeBytes([UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case UInt8(ascii: "\r"): buffer.writeBytes([UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case UInt8(ascii: "\t"): buffer.writeBytes([UInt8(ascii: "\\"), UInt8(ascii: "t")])
        default:
            let hex = Array("0123456789abcdef".utf8)
            buffer.writeBytes([UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 15)]])
        }
    }
}

/// An object's JSON written once and copied into many answers, with a slot where each copy gets
/// the members that differ from answer to answer (a device's distance from the point asked about).
public struct PrewrittenObject: Sendable {
    let bytes: [UInt8]
    let slot: Int

    /// `body` writes the object's members and calls `markSlot()` once, where sorted keys put the
    /// inserted members.
    public init(_ body: (inout JSONWriter) -> Void) {
        var writer = JSONWriter(capacity: 512)
        writer.object(body)
        guard let slot = writer.slot else { preconditionFailure("the object has no slot") }
        // Copied out of the writer: kept for as long as the object lives, with no spare capacity.
        bytes = writer.bytes
        self.slot = slot
    }
}

/// A value that writes itself with `JSONWriter`; `JSONResponse` uses it when a type offers it.
public protocol JSONWritable {
    func write(to writer: inout JSONWriter)
}

extension Double {
    /// The value rounded to `fractionDigits` decimals (0...4, below which the shortest form of a
    /// double switches to an exponent), never negative zero.
    public func rounded(fractionDigits: Int) -> Double {
        let scale = Double.powerOfTen(fractionDigits)
        let rounded = (self * scale).rounded() / scale
        return rounded == 0 ? 0 : rounded
    }

    fileprivate static func powerOfTen(_ exponent: Int) -> Double {
        precondition((0...4).contains(exponent), "0 to 4 decimals")
        var power = 1.0
        for _ in 0..<exponent { power *= 10 }
        return power
    }
}
