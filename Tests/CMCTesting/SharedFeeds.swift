import Foundation

/// The real-format sample feeds kept beside the project (`../shared/feeds`), or where
/// `CMC_SHARED_FEEDS` says.
public enum SharedFeeds {
    public static let directory: URL = {
        if let path = ProcessInfo.processInfo.environment["CMC_SHARED_FEEDS"] { return URL(fileURLWithPath: path) }
        let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return project.deletingLastPathComponent().appendingPathComponent("shared/feeds")
    }()

    public static func data(_ path: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(path)) }
}
