import Auth
import CMCCore
import CMCTesting
import Foundation
import Hummingbird
import Platform
import Testing

@Suite("User service")
struct UserTests {
    @Test("sign-up makes a citizen who signs in and reads their account", arguments: TestBackend.all)
    func signUpAndIn(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let created = try await t.client.json(.post, "/users", body: ["email": "Ana@Example.org", "password": "s3cret-pass", "name": "Ana"], expect: .created)
            #expect(created["role"] as? String == "citizen")
            #expect(created["email"] as? String == "ana@example.org")
            #expect(created["passwordHash"] == nil && created["password"] == nil)

            let signin = try await t.client.json(.post, "/users/signin", body: ["email": "ana@example.org", "password": "s3cret-pass"])
            let token = try #require(signin["token"] as? String)
            #expect(Timestamp(parsing: signin["expiresAt"] as? String ?? "")! > .now())
            let me = try await t.client.json(.get, "/users/me", token: token)
            #expect(me["id"] as? String == created["id"] as? String)

            let duplicate = try await t.client.send(.post, "/users", body: ["email": "ana@example.org", "password": "another-pass", "name": "Ana 2"])
            #expect(duplicate.status == .conflict)
        }
    }

    @Test("bad sign-up bodies name the field at fault", arguments: TestBackend.all)
    func validation(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let cases: [(Any, String)] = [
                (["email": "not-an-email", "password": "long-enough", "name": "X"], "email"),
                (["email": "x@example.org", "password": "short", "name": "X"], "password"),
                (["email": "x@example.org", "password": "long-enough"], "name"),
                (["email": "x@example.org", "password": "long-enough", "name": "X", "role": "admin"], "role"),
                (["email": 42, "password": "long-enough", "name": "X"], "email"),
                // The rules openapi.json's Email and Name patterns state: nothing is trimmed away.
                (["email": " x@example.org", "password": "long-enough", "name": "X"], "email"),
                (["email": "x@example..org", "password": "long-enough", "name": "X"], "email"),
                (["email": "x\u{1}@example.org", "password": "long-enough", "name": "X"], "email"),
                (["email": "x@example.org", "password": "long-enough", "name": " X"], "name"),
                (["email": "x@example.org", "password": "long-enough", "name": "X\u{7}Y"], "name"),
                (["email": "x@example.org", "password": "long-enough", "name": String(repeating: "é", count: 201)], "name"),
            ]
            for (body, field) in cases {
                let reply = try await t.client.send(.post, "/users", body: body)
                #expect(reply.status == .badRequest, "\(body)")
                #expect(reply.errorMessage?.hasPrefix(field) == true, "\(reply.text)")
            }
            // 200 characters of two scalars each are 400 scalars: JSON Schema's maxLength counts scalars.
            let combining = try await t.client.send(.post, "/users", body: ["email": "y@example.org", "password": "long-enough",
                                                                           "name": String(repeating: "e\u{301}", count: 200)])
            #expect(combining.status == .badRequest && combining.errorMessage?.hasPrefix("name") == true, "\(combining.text)")
            let accepted = try await t.client.json(.post, "/users", body: ["email": "Zoë@Example.org", "password": "long-enough",
                                                                          "name": "Zoë  van Dijk"], expect: .created)
            #expect(accepted["email"] as? String == "zoë@example.org")
            #expect(accepted["name"] as? String == "Zoë  van Dijk")
            let malformed = try await t.client.send(.post, "/users", body: "{\"email\": ")
            #expect(malformed.status == .badRequest)
            #expect(malformed.errorCode == "malformed_json")
        }
    }

    @Test("repeated wrong passwords lock the account for a while", arguments: TestBackend.all)
    func lockout(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            try await t.client.json(.post, "/users", body: ["email": "eva@example.org", "password": "right-password", "name": "Eva"], expect: .created)
            for _ in 0..<5 {
                let wrong = try await t.client.send(.post, "/users/signin", body: ["email": "eva@example.org", "password": "wrong-password"])
                #expect(wrong.status == .unauthorized)
            }
            let locked = try await t.client.send(.post, "/users/signin", body: ["email": "eva@example.org", "password": "right-password"])
            #expect(locked.status == .tooManyRequests)
            #expect(locked.errorCode == "account_locked")
            #expect(Int(locked.headers[.retryAfter] ?? "") ?? 0 > 0)
            // Other accounts are unaffected.
            let other = try await t.user("frank")
            #expect(!other.token.isEmpty)
            // An unknown email gets the same answer as a wrong password.
            let unknown = try await t.client.send(.post, "/users/signin", body: ["email": "nobody@example.org", "password": "whatever-pass"])
            #expect(unknown.status == .unauthorized)
        }
    }

    @Test("wrong passwords sent at once are counted at once; the lock holds one address, not the owner elsewhere; unknown emails answer alike",
          arguments: TestBackend.all)
    func concurrentLockout(backend: TestBackend) async throws {
        try await TestPlatform.run(backend, live: true) { t in
            let port = try #require(t.client.port)
            try await t.client.json(.post, "/users", body: ["email": "gus@example.org", "password": "right-password", "name": "Gus"], expect: .created)
            func burst(_ email: String) async throws -> [HTTPResponse.Status] {
                try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for _ in 0..<24 {
                        group.addTask { try await t.client.send(.post, "/users/signin", body: ["email": email, "password": "wrong-password"]).status }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            for email in ["gus@example.org", "nobody-\(UUID().uuidString.prefix(6))@example.org"] {
                let statuses = try await burst(email)
                let refused = statuses.filter { $0 == .unauthorized }.count
                #expect((1...5).contains(refused), "\(email): at most the free attempts reach the password check, got \(refused)")
                #expect(statuses.filter { $0 == .tooManyRequests }.count == 24 - refused, "\(email): \(statuses)")
                let after = try await t.client.send(.post, "/users/signin", body: ["email": email, "password": "right-password"])
                #expect(after.status == .tooManyRequests, "\(email): the right password waits out the lock from this address too")
                #expect(after.errorCode == "account_locked")
            }
            // The owner, from another address, is not locked out.
            let elsewhere = try await ExternalProcess.run("/usr/bin/python3", ["-c", """
                import http.client, json, sys
                c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), source_address=("127.0.0.2", 0), timeout=10)
                c.request("POST", "/users/signin", body=json.dumps({"email": "gus@example.org", "password": "right-password"}), headers={"Content-Type": "application/json"})
                print(c.getresponse().status)
                """, "\(port)"])
            #expect(elsewhere.output.trimmingCharacters(in: .whitespacesAndNewlines) == "200", "\(elsewhere.output)")
        }
    }

    @Test("password checks are budgeted per client address, whichever accounts they name: 429 with Retry-After; another address is unaffected")
    func passwordCheckBudget() async throws {
        var configuration = TestPlatform.configuration()
        configuration.passwordChecks = .init(burst: 4, perMinute: 1, queued: 64)
        try await TestPlatform.run(.sqlite, configuration: configuration, live: true) { t in
            let port = try #require(t.client.port)
            // The admin's sign-in took one check; a sign-up and two sign-ins to other accounts take the rest.
            try await t.client.json(.post, "/users", body: ["email": "hal@example.org", "password": "right-password", "name": "Hal"], expect: .created)
            for email in ["ida@example.org", "jon@example.org"] {
                #expect(try await t.client.send(.post, "/users/signin", body: ["email": email, "password": "some-password"]).status == .unauthorized)
            }
            for (path, body) in [("/users/signin", ["email": "hal@example.org", "password": "right-password"]),
                                 ("/users", ["email": "kim@example.org", "password": "right-password", "name": "Kim"])] {
                let refused = try await t.client.send(.post, path, body: body)
                #expect(refused.status == .tooManyRequests, "\(path): \(refused.status)")
                #expect(refused.errorCode == "too_many_password_checks")
                #expect(Int(refused.headers[.retryAfter] ?? "") ?? 0 >= 1)
            }
            let elsewhere = try await ExternalProcess.run("/usr/bin/python3", ["-c", """
                import http.client, json, sys
                c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), source_address=("127.0.0.2", 0), timeout=10)
                c.request("POST", "/users/signin", body=json.dumps({"email": "hal@example.org", "password": "right-password"}), headers={"Content-Type": "application/json"})
                print(c.getresponse().status)
                """, "\(port)"])
            #expect(elsewhere.output.trimmingCharacters(in: .whitespacesAndNewlines) == "200", "\(elsewhere.output)")
        }
    }

    @Test("only admins list users, change roles and reach other accounts", arguments: TestBackend.all)
    func adminOnly(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let ana = try await t.user("ana")
            let bob = try await t.user("bob")
            #expect(try await t.client.send(.get, "/users", token: ana.token).status == .forbidden)
            let list = try await t.client.json(.get, "/users", token: t.adminToken)
            #expect((list["users"] as? [[String: Any]])?.count == 3)

            #expect(try await t.client.send(.get, "/users/\(bob.id)", token: ana.token).status == .notFound)
            #expect(try await t.client.send(.patch, "/users/\(bob.id)", token: ana.token, body: ["name": "Mallory"]).status == .notFound)
            #expect(try await t.client.send(.patch, "/users/\(ana.id)", token: ana.token, body: ["role": "admin"]).status == .forbidden)
            let renamed = try await t.client.json(.patch, "/users/\(ana.id)", token: ana.token, body: ["name": "Ana Maria"])
            #expect(renamed["name"] as? String == "Ana Maria")

            let promoted = try await t.client.json(.patch, "/users/\(bob.id)", token: t.adminToken, body: ["role": "operator"])
            #expect(promoted["role"] as? String == "operator")
            #expect(try await t.client.send(.patch, "/users/\(bob.id)", token: t.adminToken, body: ["role": "mayor"]).status == .badRequest)

            try await t.client.json(.delete, "/users/\(ana.id)", token: ana.token, expect: .noContent)
            #expect(try await t.client.send(.get, "/users/\(ana.id)", token: t.adminToken).status == .notFound)
        }
    }

    @Test("the first admin is created only while there is no admin: not again after the admin's e-mail changes", arguments: TestBackend.all)
    func firstAdminOnce(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            try await TestPlatform.run(database: database) { t in
                let me = try await t.client.json(.get, "/users/me", token: t.adminToken)
                try await t.client.json(.patch, "/users/\(me["id"] as! String)", token: t.adminToken, body: ["email": "boss@test.cmc"])
            }
            // A restart with the same variables: no second admin under the old address.
            _ = try await Platform.prepare(database: database, configuration: TestPlatform.configuration(), logger: TestBackend.logger)
            var renamed = TestPlatform.configuration()
            renamed.adminEmail = "boss@test.cmc"
            try await TestPlatform.run(database: database, configuration: renamed) { t in
                let users = try await t.client.json(.get, "/users", token: t.adminToken)["users"] as? [[String: Any]] ?? []
                #expect(users.filter { $0["role"] as? String == "admin" }.count == 1, "\(users)")
                #expect(try await t.client.send(.post, "/users/signin", body: ["email": TestPlatform.adminEmail, "password": TestPlatform.adminPassword]).status == .unauthorized)
            }
        }
    }

    @Test("the last admin can neither be demoted nor deleted", arguments: TestBackend.all)
    func lastAdmin(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let me = try await t.client.json(.get, "/users/me", token: t.adminToken)
            let id = try #require(me["id"] as? String)
            #expect(try await t.client.send(.patch, "/users/\(id)", token: t.adminToken, body: ["role": "citizen"]).status == .conflict)
            #expect(try await t.client.send(.delete, "/users/\(id)", token: t.adminToken).status == .conflict)
        }
    }
}
