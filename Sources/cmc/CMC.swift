import ArgumentParser
import Auth
import CMCCore
import CMCStorage
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
        subcommands: [Serve.self, Migrate.self, Admin.self, Token.self, Simulate.self, Demo.self],
        defaultSubcommand: Serve.self
    )

    static func main() async {
        CommandEnvironment.raiseOpenFileLimit()
        // The library's own parse-and-run, once the limit is raised.
        await main(nil)
    }
}


struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run every service in this process (the default).")

    @Option(help: "Database URL; overrides CMC_DATABASE_URL.") var database: String?

    func run() async throws {
        let environment = try CommandEnvironment(databaseURL: database)
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
        let environment = try CommandEnvironment(databaseURL: database)
        let versions = try await environment.withDatabase { database in
            _ = try await environment.platform(on: database)
            return try await database.query("SELECT version FROM schema_migrations ORDER BY version").map { try $0.int("version") }
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
            let environment = try CommandEnvironment(databaseURL: database)
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
            let environment = try CommandEnvironment(databaseURL: database)
            let (name, days) = (self.name, self.days)
            let token = try await environment.withPlatform { platform in
                try await platform.authority.issue(kind: .microservice, subject: name, lifetime: .seconds(days * 86400))
            }
            print(token.token)
        }
    }
}
