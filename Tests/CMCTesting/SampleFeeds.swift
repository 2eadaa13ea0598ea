import Foundation

/// The real-format sample feeds in `Tests/Fixtures/feeds`, with their licences (see its README).
public enum SampleFeeds {
    public static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/feeds")

    public static func data(_ path: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(path)) }
}
