import Auth
import CMCCore
import CMCTesting
import Testing

@Suite("App service")
struct AppTests {
    @Test("an app registered by a user signs in with its secret and gets an application token", arguments: TestBackend.all)
    func registerAndSignIn(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let ana = try await t.user("ana")
            let created = try await t.client.json(.post, "/apps", token: ana.token, body: ["name": "Parking finder", "description": "finds parking"], expect: .created)
            let app = try #require(created["app"] as? [String: Any])
            let id = try #require(app["id"] as? String)
            let secret = try #require(created["secret"] as? String)
            #expect(app["ownerID"] as? String == ana.id)

            // The secret is shown once: reading the app again does not reveal it.
            let read = try await t.client.send(.get, "/apps/\(id)", token: ana.token)
            #expect(read.status == .ok)
            #expect(!read.text.contains(secret))

            let signin = try await t.client.json(.post, "/apps/signin", body: ["id": id, "secret": secret])
            let token = try #require(signin["token"] as? String)
            let verify = try await t.client.json(.post, "/auth/tokens/verify", token: token, body: ["token": token])
            let principal = try #require(verify["principal"] as? [String: Any])
            #expect(principal["kind"] as? String == "application")
            #expect(principal["owner"] as? String == ana.id)

            #expect(try await t.client.send(.post, "/apps/signin", body: ["id": id, "secret": secret + "x"]).status == .unauthorized)
            #expect(try await t.client.send(.post, "/apps/signin", body: ["id": "nope", "secret": secret]).status == .unauthorized)
        }
    }

    @Test("rotating the secret retires the old one", arguments: TestBackend.all)
    func rotation(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let ana = try await t.user("ana")
            let created = try await t.client.json(.post, "/apps", token: ana.token, body: ["name": "A"], expect: .created)
            let id = (created["app"] as! [String: Any])["id"] as! String
            let old = created["secret"] as! String
            let rotated = try await t.client.json(.post, "/apps/\(id)/secret", token: ana.token)
            let new = try #require(rotated["secret"] as? String)
            #expect(new != old)
            #expect(try await t.client.send(.post, "/apps/signin", body: ["id": id, "secret": old]).status == .unauthorized)
            #expect(try await t.client.send(.post, "/apps/signin", body: ["id": id, "secret": new]).status == .ok)
        }
    }

    @Test("only the owner or an admin sees, changes and deletes an app", arguments: TestBackend.all)
    func ownership(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let ana = try await t.user("ana")
            let bob = try await t.user("bob")
            let created = try await t.client.json(.post, "/apps", token: ana.token, body: ["name": "A"], expect: .created)
            let id = (created["app"] as! [String: Any])["id"] as! String
            #expect(try await t.client.send(.get, "/apps/\(id)", token: bob.token).status == .notFound)
            #expect(try await t.client.send(.patch, "/apps/\(id)", token: bob.token, body: ["name": "B"]).status == .notFound)
            #expect(try await t.client.send(.post, "/apps/\(id)/secret", token: bob.token).status == .notFound)
            #expect(try await t.client.send(.delete, "/apps/\(id)", token: bob.token).status == .notFound)
            let bobs = try await t.client.json(.get, "/apps", token: bob.token)
            #expect((bobs["apps"] as? [Any])?.isEmpty == true)

            let renamed = try await t.client.json(.patch, "/apps/\(id)", token: t.adminToken, body: ["name": "Renamed"])
            #expect(renamed["name"] as? String == "Renamed")
            #expect(try await t.client.send(.patch, "/apps/\(id)", token: ana.token, body: ["name": ""]).status == .badRequest)
            try await t.client.json(.delete, "/apps/\(id)", token: ana.token, expect: .noContent)
            #expect(try await t.client.send(.get, "/apps/\(id)", token: ana.token).status == .notFound)
        }
    }

    @Test("an application token cannot register apps or act as a user", arguments: TestBackend.all)
    func applicationLimits(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let ana = try await t.user("ana")
            let app = try await t.application(ownerToken: ana.token)
            #expect(try await t.client.send(.post, "/apps", token: app.token, body: ["name": "child"]).status == .forbidden)
            #expect(try await t.client.send(.get, "/users/me", token: app.token).status == .forbidden)
        }
    }
}
