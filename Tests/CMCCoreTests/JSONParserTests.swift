import CMCCore
import Foundation
import Testing

/// `JSONValue(parsing:)` against Foundation's decoder, and on what RFC 8259 refuses.
@Suite("JSON parser")
struct JSONParserTests {
    static let valid = [
        #"{"ts":"2026-01-31T12:00:00Z","values":{"flow":612,"speed":31.5,"ok":true,"note":null}}"#,
        #"[{"values":{"free":1}},{"values":{"free":-2.5e-3}}]"#,
        #"  {"a" : [ 1 , 2 , { "b" : [ ] } , { } ] }  "#,
        #""caf\u00e9 \ud83d\ude80 \"quoted\" \\ \/ \b\f\n\r\t""#,
        #"{"unicode":"Cagliari — Via Roma, è","emoji":"🚌"}"#,
        "0", "-0", "123456789012345", "1234567890123456789", "1E+2", "3.14159", "-1.5e10", "true", "false", "null",
        #"{"dup":1,"dup":2}"#,
    ]

    @Test("valid documents read as Foundation reads them", arguments: valid)
    func matchesFoundation(text: String) throws {
        let parsed = try JSONValue(parsing: text)
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(parsed == foundation)
        #expect(try JSONValue(parsing: Array(text.utf8)) == parsed)
    }

    static let invalid: [(String, String)] = [
        ("", "unexpected end"), ("{", "unexpected end"), (#"{"a":1"#, "unexpected end"), (#"{"a" 1}"#, "expected ':'"),
        (#"{a:1}"#, "member name"), ("[1,]", "unexpected character"), ("[1 2]", "expected ','"), ("{} x", "after the JSON value"),
        ("01", "after the JSON value"), ("1.", "after '.'"), (".5", "unexpected character"), ("-", "expected a digit"), ("1e", "exponent"),
        ("1e400", "out of range"), (#""abc"#, "unterminated"), ("\"a\u{1}b\"", "control character"), (#""\x""#, "unknown escape"),
        (#""\u12""#, "\\u escape"), (#""\ud83d""#, "unpaired surrogate"), (#""\ude80""#, "unpaired surrogate"), ("tru", "unexpected end"),
        ("nul1", "unexpected character"), (String(repeating: "[", count: 300) + String(repeating: "]", count: 300), "nested too deeply"),
    ]

    @Test("what RFC 8259 refuses is refused, saying why and where", arguments: invalid)
    func refuses(text: String, reason: String) {
        #expect {
            try JSONValue(parsing: text)
        } throws: { error in
            guard let error = error as? JSONParseError else { return false }
            return error.message.contains(reason) && error.offset >= 0 && error.offset <= text.utf8.count
        }
    }

    @Test("one element of a list reads as in the whole tree; the rest is still checked")
    func oneElement() throws {
        let page = #"{"nextCursor":"x","devices":[{"id":"a","location":{"lat":39.2,"lon":9.1}},"b\"]",[1,[2]],-1.5e3,null,{}],"devices":[9]}"#
        guard case .object(let whole) = try JSONValue(parsing: page), case .array(let devices)? = whole["devices"] else {
            Issue.record("the page does not parse")
            return
        }
        for index in devices.indices {
            var offered = 0
            let element = try JSONValue.element(ofArray: "devices", in: Array(page.utf8)) { count in offered = count; return index }
            #expect(offered == devices.count)
            #expect(element == devices[index])
        }
        #expect(try JSONValue.element(ofArray: "devices", in: Array(#"{"devices":[]}"#.utf8)) { _ in 0 } == nil)
        #expect(try JSONValue.element(ofArray: "devices", in: Array(#"{"other":[1]}"#.utf8)) { _ in 0 } == nil)
        #expect(try JSONValue.element(ofArray: "devices", in: Array(#"{"devices":{"a":1}}"#.utf8)) { _ in 0 } == nil)
        for broken in [#"{"devices":[1,]}"#, #"{"devices":[1],"x":tru}"#, #"{"devices":[1]} x"#, #"{"devices":["a]}"#, #"[1]"#, #"{"devices":[{"a" 1}]}"#] {
            #expect(throws: JSONParseError.self, "\(broken)") { try JSONValue.element(ofArray: "devices", in: Array(broken.utf8)) { _ in 0 } }
        }
    }

    @Test("bytes that are not UTF-8 are refused")
    func invalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: [0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: [0x22, 0xFF, 0x22]) }
    }

    @Test("whatever the writer writes reads back the same")
    func roundTrip() throws {
        var random = SplitMix64(seed: 8259)
        func value(_ depth: Int) -> JSONValue {
            switch random.next() % (depth > 3 ? 4 : 6) {
            case 0: return .null
            case 1: return .bool(random.next() % 2 == 0)
            case 2: return .number((random.nextUnit() - 0.5) * pow(10, Double(random.next() % 30) - 10))
            case 3: return .string(String((0..<Int(random.next() % 12)).map { _ in "aé\"\\\n\t€🚌x/\u{7}".randomElement(using: &random)! }))
            case 4: return .array((0..<Int(random.next() % 5)).map { _ in value(depth + 1) })
            default: return .object(Dictionary((0..<Int(random.next() % 5)).map { ("k\($0)", value(depth + 1)) }) { a, _ in a })
            }
        }
        for _ in 0..<500 {
            let original = value(0)
            var writer = JSONWriter()
            writer.value(original)
            #expect(try JSONValue(parsing: writer.bytes) == original)
        }
    }
}
