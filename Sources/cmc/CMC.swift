import ArgumentParser
import Auth
import CMCCore
import Foundation
import Logging
import Platform
import Users

/// `cmc`: the whole platform in one binary.
@main
struct CMC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cmc",
        abstract: "City IoT platform: device registry, time-series history, authentication.",
        subcommands: [Serve.self, Migrate.self, Admin.self, Token.self, Simulate.self, Demo.self, Bench.self],
        defaultSubcommand: Serve.self
    )

    static func main() async {
        raiseOpenFileLimit()
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// Every connection is a descriptor, and the usual soft limit (1,024) is far below a city's
    /// devices and map users; the hard limit is what the administrator allows.
    static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// Shared by every command that touches the database.
struct Environment {
    var configuration: PlatformConfiguration
    var logger: Logger

    init(databaseURL: String? = nil) throws {
        var configuration = try PlatformConfiguration(environment: ProcessInfo.processInfo.environment)
        if let databaseURL { configuration.databaseURL = databaseURL }
        self.configuration = configuration
        var logger = Logger(label: "cmc")
        logger.logLevel = configuration.logLevel
        self.logger = logger
    }

    /// Runs `body` with the platform prepared (migrated) and its database running.
    func withPlatform<Result: Sendable>(_ body: @escaping @Sendable (Platform) async throws -> Result) async throws -> Result {
        let database = try await DatabaseURL.open(configuration.databaseURL, logger: logger)
        let configuration = self.configuration
        let logger = self.logger
        let outcome: Swift.Result<Result, any Error>
        do {
            outcome = .success(try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask { try await database.run(); return nil }
                group.addTask {
                    let platform = try await Platform.prepare(database: database, configuration: configuration, logger: logger)
                    return try await body(platform)
                }
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
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run every service in this process (the default).")

    @Option(help: "Database URL; overrides CMC_DATABASE_URL.") var database: String?

    func run() async throws {
        let environment = try Environment(databaseURL: database)
        let configuration = environment.configuration
        try await Platform.serve(configuration: configuration, logger: environment.logger) { _ in
            print("cmc listening on http://\(configuration.host):\(configuration.port)/ (\(configuration.databaseURL))")
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending migrations and exit.")

    @Option(help: "Database URL; overrides CMC_DATABASE_URL.") var database: String?

    func run() async throws {
        let environment = try Environment(databaseURL: database)
        let versions = try await environment.withPlatform { platform in
            try await platform.database.query("SELECT version FROM schema_migrations ORDER BY version").map { try $0.int("version") }
        }
        print("schema at version \(versions.last ?? 0) (\(versions.count) migrations applied)")
    }
}

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage admin accounts.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an admin account.")
        @Option var email: String
        @Option(help: "Password; read from CMC_ADMIN_PASSWORD when omitted.") var password: String?
        @Option var name = "Administrator"
        @Option(help: "Database URL; overrides CMC_DATABASE_URL.") var database: String?

        func run() async throws {
            let environment = try Environment(databaseURL: database)
            guard let password = password ?? ProcessInfo.processInfo.environment["CMC_ADMIN_PASSWORD"] else {
                throw ValidationError("give --password or set CMC_ADMIN_PASSWORD")
            }
            let (email, name) = (self.email, self.name)
            let user = try await environment.withPlatform { platform in
                try await platform.users.create(email: email, password: password, name: name, role: .admin)
            }
            print("created admin \(user.email) (\(user.id))")
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Issue tokens.", subcommands: [Microservice.self])

    struct Microservice: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a microservice token for NAME.")
        @Argument var name: String
        @Option(help: "Lifetime in days, at most 365.") var days = 30
        @Option(help: "Database URL; overrides CMC_DATABASE_URL.") var database: String?

        func run() async throws {
            guard ServiceName.isValid(name) else { throw ValidationError("NAME must be 1-64 letters, digits, '-' or '_'") }
            guard (1...(AuthController.maximumMicroserviceLifetimeSeconds / 86400)).contains(days) else {
                throw ValidationError("--days must be from 1 to \(AuthController.maximumMicroserviceLifetimeSeconds / 86400)")
            }
            let environment = try Environment(databaseURL: database)
            let (name, days) = (self.name, self.days)
            let token = try await environment.withPlatform { platform in
                try await platform.authority.issue(kind: .microservice, subject: name, lifetime: .seconds(days * 86400))
            }
            print(token.token)
        }
    }
}
