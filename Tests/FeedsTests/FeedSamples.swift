import CMCTesting
import Foundation

/// The shared sample feeds and this target's own fixtures.
enum FeedSamples {
    static let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var samples: URL { SampleFeeds.directory }

    static func data(_ path: String) throws -> Data { try SampleFeeds.data(path) }

    static func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: project.appendingPathComponent("Tests/FeedsTests/Fixtures").appendingPathComponent(name))
    }
}
