import CMCCore
import CMCStorage
import CMCTesting
import Foundation
import Platform
import Testing

/// The `cmc` binary's administrative commands, run as a user would run them.
@Suite("cmc command line")
struct CommandLineTests {
    static func cmc(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let outcome = try await CMCBinary.start(arguments, environment: environment).finished()
        return (outcome.status, outcome.output)
    }

    @Test("migrate, admin create and token microservice work on a new SQLite file",
          .enabled(if: CMCBinary.isBuilt))
    func administration() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cmc-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = "sqlite:\(directory.path)/cmc.sqlite"

        let migrate = try await Self.cmc(["migrate", "--database", url])
        #expect(migrate.status == 0, "\(migrate.output)")
        let count = try Migrations(directory: TestBackend.migrationsDirectory, dialect: .sqlite).files.count
        #expect(migrate.output.contains("\(count) migrations applied"))

        let admin = try await Self.cmc(["admin", "create", "--email", "ops@city.example", "--password", "long-enough-pw", "--database", url])
        #expect(admin.status == 0, "\(admin.output)")
        let again = try await Self.cmc(["admin", "create", "--email", "ops@city.example", "--password", "long-enough-pw", "--database", url])
        #expect(again.status != 0, "a second account with the same email is refused")

        let token = try await Self.cmc(["token", "microservice", "persistence", "--database", url])
        #expect(token.status == 0, "\(token.output)")
        let jwt = token.output.trimmingCharacters(in: .whitespacesAndNewlines)

        // The platform on the same file accepts both: the token's signing key was stored.
        let database = try await SQLiteDatabase.open(path: "\(directory.path)/cmc.sqlite")
        var configuration = TestPlatform.configuration()
        configuration.adminEmail = "ops@city.example"
        configuration.adminPassword = "long-enough-pw"
        defer { Task { try? await database.close() } }
        try await TestPlatform.run(database: database, configuration: configuration) { t in
            let verify = try await t.client.json(.post, "/auth/tokens/verify", token: jwt, body: ["token": jwt])
            #expect((verify["principal"] as? [String: Any])?["subject"] as? String == "persistence")
            let me = try await t.client.json(.get, "/users/me", token: t.adminToken)
            #expect(me["role"] as? String == "admin")
        }

        let bad = try await Self.cmc(["token", "microservice", "no spaces!", "--database", url])
        #expect(bad.status != 0)
    }

    @Test("a second cmc serve on the same SQLite file is refused, naming the first; the file is free again once it stops",
          .enabled(if: CMCBinary.isBuilt))
    func oneServerPerFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cmc-serve-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = "sqlite:\(directory.path)/cmc.sqlite"
        let lockFile = directory.appendingPathComponent("cmc.sqlite-serve.lock").path
        func serve() throws -> ExternalProcess {
            try CMCBinary.start(["serve", "--database", url], environment: [
                "CMC_HOST": "127.0.0.1", "CMC_PORT": "0", "CMC_COAP_PORT": "off", "CMC_MQTT_URL": "", "CMC_CONNECTORS_DIR": "off",
            ])
        }
        /// The holder the lock file names, once a server has taken it.
        func holder(otherThan previous: String? = nil) async throws -> String {
            for _ in 0..<300 {
                if let text = try? String(contentsOfFile: lockFile, encoding: .utf8), text.hasPrefix("pid "), text != previous { return text }
                try await Task.sleep(for: .milliseconds(100))
            }
            Issue.record("no server took \(lockFile)")
            return ""
        }

        let first = try serve()
        defer { first.terminate() }
        let firstHolder = try await holder()
        // A second server that started would run until stopped: give it 30 s to refuse.
        let secondProcess = try serve()
        let refusal = Task {
            try await Task.sleep(for: .seconds(30))
            secondProcess.terminate()
        }
        let second = await secondProcess.finished()
        refusal.cancel()
        #expect(second.status != 0 && second.status != SIGTERM, "the second server did not stop by itself")
        #expect(second.output.contains("already serving") && second.output.contains(firstHolder.trimmingCharacters(in: .whitespacesAndNewlines)),
                "\(second.output)")

        first.terminate()
        _ = await first.finished()
        let third = try serve()
        defer { third.terminate() }
        #expect(try await holder(otherThan: firstHolder) != firstHolder)
        third.terminate()
        _ = await third.finished()
    }
}
