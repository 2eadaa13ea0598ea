import Foundation
import ZIPFoundation

/// The text files of a GTFS zip.
public struct GTFSArchive {
    private let archive: Archive

    public init(data: Data) throws {
        let kind = FeedContent.describe(data)
        guard kind.hasPrefix("a zip archive") else { throw FeedError("not a GTFS zip archive: it looks like \(kind)") }
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw FeedError("not a readable zip archive (\(data.count) bytes): \(error)")
        }
    }

    /// The file's table; nil for a missing optional file. Files may sit in one top-level folder.
    func table(_ name: String, required: Bool = true) throws -> CSVTable? {
        guard let entry = archive[name] ?? archive.first(where: { $0.type == .file && ($0.path as NSString).lastPathComponent == name }) else {
            if required { throw FeedError("the feed has no \(name)") }
            return nil
        }
        var data = Data()
        do {
            _ = try archive.extract(entry, skipCRC32: false) { data.append($0) }
        } catch {
            throw FeedError("\(name): cannot be extracted, the archive is damaged (\(error))")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw FeedError("\(name): not UTF-8 text") }
        return try CSVTable(file: name, text: text)
    }
}
