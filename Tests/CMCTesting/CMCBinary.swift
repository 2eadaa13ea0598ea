import Foundation

/// The `cmc` executable `swift build` made, run as a user would run it: in the project's folder,
/// with a low bcrypt cost and quiet logs unless told otherwise.
public enum CMCBinary {
    public static let url = TestBackend.migrationsDirectory.deletingLastPathComponent().appendingPathComponent(".build/debug/cmc")
    /// The benchmarks' executable, built beside it.
    public static let benchURL = url.deletingLastPathComponent().appendingPathComponent("cmc-bench")

    public static var isBuilt: Bool { FileManager.default.isExecutableFile(atPath: url.path) }

    public static func start(_ arguments: [String], environment: [String: String] = [:], executable: URL = url) throws -> ExternalProcess {
        try ExternalProcess(
            executable, arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment.merging(["CMC_BCRYPT_COST": "4", "CMC_LOG_LEVEL": "error"]) { a, _ in a }) { _, b in b },
            directory: TestBackend.migrationsDirectory.deletingLastPathComponent()
        )
    }
}
