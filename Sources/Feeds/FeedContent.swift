import Foundation

/// What a file looks like from its first bytes, for errors about a file of the wrong kind: a zip
/// given where XML belongs, an error page where a feed was expected.
public enum FeedContent {
    public static func describe(_ data: Data) -> String {
        let size = "\(data.count) bytes"
        let head = [UInt8](data.prefix(512))
        if head.isEmpty { return "an empty file" }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return "a zip archive (\(size))" }
        if head.starts(with: [0x1F, 0x8B]) { return "gzip-compressed data (\(size))" }
        if head.starts(with: Array("%PDF".utf8)) { return "a PDF document (\(size))" }
        var text = head.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(head.dropFirst(3)) : head
        while let first = text.first, first == 0x20 || first == 0x09 || first == 0x0A || first == 0x0D { text.removeFirst() }
        let start = String(decoding: text.prefix(64), as: UTF8.self).lowercased()
        if start.hasPrefix("{") || start.hasPrefix("[") { return "a JSON document (\(size))" }
        if start.hasPrefix("<!doctype html") || start.hasPrefix("<html") { return "an HTML page (\(size))" }
        if start.hasPrefix("<") { return "XML (\(size))" }
        // Text is what decodes as UTF-8 without control characters other than white space.
        let controls = head.filter { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }.count
        if controls == 0, String(bytes: head, encoding: .utf8) != nil || head.count == 512 {
            let line = String(decoding: text.prefix(40), as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            return "text starting \"\(line)\" (\(size))"
        }
        return "binary data (\(size))"
    }

    /// Why a file that should be JSON is not: cut short or malformed, or another kind of file.
    static func notJSON(_ data: Data) -> String {
        let kind = describe(data)
        return kind.hasPrefix("a JSON") ? "malformed JSON (\(data.count) bytes)" : "not JSON: it looks like \(kind)"
    }
}
