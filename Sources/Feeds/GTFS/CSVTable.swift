import Foundation

/// One GTFS text file: RFC 4180 CSV with a header row, optional UTF-8 BOM and CRLF or LF lines.
struct CSVTable {
    let file: String
    let columns: [String: Int]
    private(set) var rows: [[Substring]] = []

    init(file: String, text: String) throws {
        self.file = file
        var records = CSVTable.parse(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)
        guard !records.isEmpty else { throw FeedError("\(file): empty file, a header row is required") }
        let header = records.removeFirst().map { $0.trimmingCharacters(in: .whitespaces) }
        var columns: [String: Int] = [:]
        for (index, name) in header.enumerated() where columns[name] == nil { columns[name] = index }
        self.columns = columns
        rows = records.filter { !($0.count == 1 && $0[0].isEmpty) }
    }

    /// Fails with the file and column named, as a source status should say.
    func require(_ names: String...) throws { try require(names) }

    func require(_ names: [String]) throws {
        for name in names where columns[name] == nil { throw FeedError("\(file): missing required column \(name)") }
    }

    func value(_ row: [Substring], _ column: String) -> String? {
        guard let index = columns[column], index < row.count else { return nil }
        let value = row[index].trimmingCharacters(in: .whitespaces)
        return value.isEmpty ? nil : value
    }

    func required(_ row: [Substring], _ column: String, line: Int) throws -> String {
        guard let value = value(row, column) else { throw FeedError("\(file) line \(line + 2): \(column) is empty") }
        return value
    }

    static func parse(_ text: String) -> [[Substring]] {
        var records: [[Substring]] = []
        var fields: [Substring] = []
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        var fieldStart = index
        // Quoted fields are unescaped into a fresh string; plain fields stay slices of the text.
        var quoted: String?
        while index < scalars.endIndex {
            let c = scalars[index]
            if var q = quoted {
                let next = scalars.index(after: index)
                if c == "\"" {
                    if next < scalars.endIndex, scalars[next] == "\"" {
                        q.unicodeScalars.append("\"")
                        quoted = q
                        index = scalars.index(after: next)
                        continue
                    }
                    // Closing quote: the field ends at the next separator.
                    fields.append(Substring(q))
                    quoted = nil
                    index = next
                    while index < scalars.endIndex, scalars[index] != ",", scalars[index] != "\n", scalars[index] != "\r" { index = scalars.index(after: index) }
                    fieldStart = index
                    if index < scalars.endIndex, scalars[index] == "," {
                        index = scalars.index(after: index)
                        fieldStart = index
                        if index == scalars.endIndex || scalars[index] == "\n" || scalars[index] == "\r" { fields.append("") }
                    }
                    continue
                }
                q.unicodeScalars.append(c)
                quoted = q
                index = next
                continue
            }
            switch c {
            case "\"" where index == fieldStart:
                quoted = ""
                index = scalars.index(after: index)
            case ",":
                fields.append(Substring(text.unicodeScalars[fieldStart..<index]))
                index = scalars.index(after: index)
                fieldStart = index
                if index == scalars.endIndex || scalars[index] == "\n" || scalars[index] == "\r" { fields.append("") }
            case "\n", "\r":
                if fieldStart < index { fields.append(Substring(text.unicodeScalars[fieldStart..<index])) }
                if !fields.isEmpty { records.append(fields) }
                fields = []
                index = scalars.index(after: index)
                fieldStart = index
            default:
                index = scalars.index(after: index)
            }
        }
        if let q = quoted { fields.append(Substring(q)) } else if fieldStart < index { fields.append(Substring(text.unicodeScalars[fieldStart..<index])) }
        if !fields.isEmpty { records.append(fields) }
        return records
    }
}
