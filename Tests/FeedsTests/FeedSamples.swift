import Foundation

/// The shared sample feeds (`../shared/feeds` beside the project) and this target's own fixtures.
enum FeedSamples {
    static let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var shared: URL {
        if let path = ProcessInfo.processInfo.environment["CMC_SHARED_FEEDS"] { return URL(fileURLWithPath: path) }
        return project.deletingLastPathComponent().appendingPathComponent("shared/feeds")
    }

    static func data(_ path: String) throws -> Data { try Data(contentsOf: shared.appendingPathComponent(path)) }

    static func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: project.appendingPathComponent("Tests/FeedsTests/Fixtures").appendingPathComponent(name))
    }
}
