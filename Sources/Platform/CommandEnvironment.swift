import CMCCore
import CMCStorage
import Foundation
import Logging

/// Settings from `CMC_*` and a logger, for the command-line tools (`cmc`, `cmc-bench`) that touch the database.
public struct CommandEnvironment: Sendable {
    public var configuration: PlatformConfiguration
    public var logger: Logger

    public init(databaseURL: String? = nil) throws {
        var configuration = try PlatformConfiguration(environment: ProcessInfo.processInfo.environment)
        if let databaseURL { configuration.databaseURL = databaseURL }
        self.configuration = configuration
        var logger = Logger(label: "cmc")
        logger.logLevel = configuration.logLevel
        self.logger = logger
    }

    /// Runs `body` with the platform prepared (migrated) and its database running.
    public func withPlatform<Result: Sendable>(_ body: @escaping @Sendable (Platform) async throws -> Result) async throws -> Result {
        let environment = self
        return try await withDatabase { database in try await body(environment.platform(on: database)) }
    }

    /// The platform on a database that runs: migrated, keys and rules loaded.
    public func platform(on database: any Database) async throws -> Platform {
        try await Platform.prepare(database: database, configuration: configuration, logger: logger)
    }

    /// Runs `body` with the configured database open and running, and closes it after: for the
    /// tools that read the database itself (migration status, benchmarks).
    public func withDatabase<Result: Sendable>(_ body: @escaping @Sendable (any Database) async throws -> Result) async throws -> Result {
        let database = try await DatabaseURL.open(configuration.databaseURL, logger: logger)
        let outcome: Swift.Result<Result, any Error>
        do {
            outcome = .success(try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask { try await database.run(); return nil }
                group.addTask { try await body(database) }
                defer { group.cancelAll() }
                while let next = try await group.next() {
                    if let next { return next }
                }
                throw CancellationError()
            })
        } catch {
            outcome = .failure(error)
        }
        // Closed on failure too: the error is what the user must see.
        try? await database.close()
        return try outcome.get()
    }

    /// Every connection is a descriptor, and the usual soft limit (1,024) is far below a city's
    /// devices and map users; the hard limit is what the administrator allows.
    public static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
