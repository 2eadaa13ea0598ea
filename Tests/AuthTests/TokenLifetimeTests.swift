import Auth
import CMCCore
import CMCTesting
import Foundation
import Testing

/// A token stands for its subject as it was when signed: it stops working once that changes.
@Suite("Tokens end with what they stood for")
struct TokenLifetimeTests {
    @Test("a demoted, re-passworded or deleted user's tokens stop working at once", arguments: TestBackend.all)
    func userChanges(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let bob = try await t.user("bob", role: .admin)
            #expect(try await t.client.send(.get, "/users", token: bob.token).status == .ok)
            let minted = try await t.client.json(.post, "/auth/tokens/microservice", token: bob.token, body: ["name": "bobs-service"], expect: .created)
            let service = try #require(minted["token"] as? String)
            try await t.client.json(.patch, "/users/\(bob.id)", token: t.adminToken, body: ["role": "citizen"])
            let stale = try await t.client.send(.get, "/users", token: bob.token)
            #expect(stale.status == .unauthorized, "an ex-admin's token must not keep the admin role")
            #expect(try await t.client.send(.get, "/users/me", token: bob.token).status == .unauthorized)
            let again = try await t.client.json(.post, "/users/signin", body: ["email": try #require(try await t.client.json(.get, "/users/\(bob.id)", token: t.adminToken)["email"] as? String), "password": "password-bob"])
            let fresh = try #require(again["token"] as? String)
            #expect(try await t.client.send(.get, "/users", token: fresh).status == .forbidden)
            #expect(try await t.client.send(.get, "/users/me", token: fresh).status == .ok)
            // What the ex-admin minted is an admin's to retire.
            #expect(try await t.client.send(.get, "/users", token: service).status == .ok)
            try await t.client.json(.delete, "/auth/tokens/microservice/bobs-service", token: t.adminToken, expect: .noContent)
            #expect(try await t.client.send(.get, "/users", token: service).status == .unauthorized)
            let newer = try await t.client.json(.post, "/auth/tokens/microservice", token: t.adminToken, body: ["name": "bobs-service"], expect: .created)
            #expect(try await t.client.send(.get, "/users", token: try #require(newer["token"] as? String)).status == .ok)

            let ana = try await t.user("ana")
            try await t.client.json(.patch, "/users/\(ana.id)", token: t.adminToken, body: ["password": "a-new-password"])
            #expect(try await t.client.send(.get, "/users/me", token: ana.token).status == .unauthorized)

            let carl = try await t.user("carl")
            try await t.client.json(.patch, "/users/\(carl.id)", token: carl.token, body: ["name": "Carl R."])
            #expect(try await t.client.send(.get, "/users/me", token: carl.token).status == .ok, "a change of name keeps the token")
            try await t.client.json(.delete, "/users/\(carl.id)", token: t.adminToken, expect: .noContent)
            let gone = try await t.client.send(.get, "/devices", token: carl.token)
            #expect(gone.status == .unauthorized)
        }
    }

    @Test("an app's tokens end with its secret, with the app and with its owner; the owner's apps and subscriptions go with the owner", arguments: TestBackend.all)
    func applicationChanges(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let owner = try await t.user("dora")
            let app = try await t.application(ownerToken: owner.token)
            #expect(try await t.client.send(.get, "/devices", token: app.token).status == .ok)
            let rotated = try await t.client.json(.post, "/apps/\(app.id)/secret", token: owner.token)
            #expect(try await t.client.send(.get, "/devices", token: app.token).status == .unauthorized)
            let signin = try await t.client.json(.post, "/apps/signin", body: ["id": app.id, "secret": try #require(rotated["secret"] as? String)])
            let second = try #require(signin["token"] as? String)
            #expect(try await t.client.send(.get, "/devices", token: second).status == .ok)
            try await t.client.json(.delete, "/apps/\(app.id)", token: owner.token, expect: .noContent)
            #expect(try await t.client.send(.get, "/devices", token: second).status == .unauthorized)

            // A deleted owner: the apps go, their tokens stop, and their subscriptions stop delivering.
            let kept = try await t.application(ownerToken: owner.token)
            let keptSecret = try await t.client.json(.post, "/apps/\(kept.id)/secret", token: owner.token)["secret"] as? String
            let keptToken = try #require(try await t.client.json(.post, "/apps/signin", body: ["id": kept.id, "secret": keptSecret ?? ""])["token"] as? String)
            let hook = ["url": "http://127.0.0.1:9/hook", "filter": ["type": ["reading"]]] as [String: Any]
            let mine = try await t.client.json(.post, "/subscriptions", token: owner.token, body: hook, expect: .created)
            let apps = try await t.client.json(.post, "/subscriptions", token: keptToken, body: hook, expect: .created)
            try await t.client.json(.delete, "/users/\(owner.id)", token: t.adminToken, expect: .noContent)
            #expect(try await t.client.send(.get, "/devices", token: keptToken).status == .unauthorized)
            #expect(try await t.client.send(.post, "/apps/signin", body: ["id": kept.id, "secret": keptSecret ?? ""]).status == .unauthorized)
            #expect(try await t.client.send(.get, "/apps/\(kept.id)", token: t.adminToken).status == .notFound)
            for subscription in [mine, apps] {
                #expect(try await t.client.send(.get, "/subscriptions/\(subscription["id"] as! String)", token: t.adminToken).status == .notFound)
            }
        }
    }

    @Test("a service's token lasts a year at most", arguments: [TestBackend.sqlite])
    func microserviceBound(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let long = try await t.client.send(.post, "/auth/tokens/microservice", token: t.adminToken, body: ["name": "svc", "lifetimeSeconds": 10 * 365 * 86400])
            #expect(long.status == .badRequest)
            #expect(long.errorMessage?.hasPrefix("lifetimeSeconds") == true)
            let standard = try await t.client.json(.post, "/auth/tokens/microservice", token: t.adminToken, body: ["name": "svc"], expect: .created)
            let expires = try #require(Timestamp(parsing: standard["expiresAt"] as? String ?? ""))
            #expect(expires < Timestamp.now().adding(seconds: 31 * 86400))
            #expect(try await t.client.send(.delete, "/auth/tokens/microservice/not%20a%20name", token: t.adminToken).status == .badRequest)
        }
    }
}
