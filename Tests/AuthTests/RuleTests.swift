import Auth
import CMCCore
import CMCTesting
import Testing

@Suite("Authorization rules")
struct RuleTests {
    @Test("an admin narrows a route's rule and it applies at once, and persists", arguments: TestBackend.all)
    func changeRules(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            try await TestPlatform.run(database: database) { t in
                let citizen = try await t.user("carla")
                #expect(try await t.client.send(.get, "/devices", token: citizen.token).status == .ok)

                let current = try await t.client.json(.get, "/auth/rules", token: t.adminToken)
                var rules = try #require(current["rules"] as? [[String: Any]])
                let index = try #require(rules.firstIndex { $0["method"] as? String == "GET" && $0["path"] as? String == "/devices" })
                rules[index]["allow"] = ["admin", "operator"]
                try await t.client.json(.put, "/auth/rules", token: t.adminToken, body: ["rules": rules])

                let denied = try await t.client.send(.get, "/devices", token: citizen.token)
                #expect(denied.status == .forbidden)
                #expect(denied.errorCode == "forbidden")
                #expect(try await t.client.send(.get, "/devices", token: t.adminToken).status == .ok)
                #expect(try await t.client.send(.get, "/auth/rules", token: citizen.token).status == .forbidden)
            }
            // Rules are stored: a restarted platform applies them too.
            try await TestPlatform.run(database: database) { t in
                let citizen = try await t.user("dario")
                #expect(try await t.client.send(.get, "/devices", token: citizen.token).status == .forbidden)
                try await t.client.json(.delete, "/auth/rules", token: t.adminToken)
                #expect(try await t.client.send(.get, "/devices", token: citizen.token).status == .ok)
            }
        }
    }

    @Test("rules naming unknown routes or audiences, or locking admins out, are refused", arguments: TestBackend.all)
    func invalidRules(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let unknownRoute = try await t.client.send(.put, "/auth/rules", token: t.adminToken,
                                                       body: ["rules": [["method": "GET", "path": "/nowhere", "allow": ["admin"]]]])
            #expect(unknownRoute.status == .badRequest)
            #expect(unknownRoute.errorMessage?.contains("rules[0]") == true)
            let unknownAudience = try await t.client.send(.put, "/auth/rules", token: t.adminToken,
                                                          body: ["rules": [["method": "GET", "path": "/devices", "allow": ["robots"]]]])
            #expect(unknownAudience.status == .badRequest)
            let lockout = try await t.client.send(.put, "/auth/rules", token: t.adminToken,
                                                  body: ["rules": [["method": "PUT", "path": "/auth/rules", "allow": ["citizen"]]]])
            #expect(lockout.status == .badRequest)
            // A set of audiences: one named twice would be stored other than it was sent.
            let twice = try await t.client.send(.put, "/auth/rules", token: t.adminToken,
                                                body: ["rules": [["method": "GET", "path": "/devices", "allow": ["user", "user"]]]])
            #expect(twice.status == .badRequest)
            #expect(twice.errorMessage?.hasPrefix("rules[0].allow") == true, "\(twice.text)")
        }
    }

    @Test("a rule admits exactly its audiences")
    func admits() throws {
        let rule = AuthorizationRule(method: "GET", path: "/x", allow: [.operator, .application])
        func principal(_ kind: TokenKind, _ role: Role? = nil) -> Principal {
            Principal(kind: kind, subject: "s", role: role, owner: nil, tokenID: "t", expiresAt: .now())
        }
        #expect(rule.admits(principal(.user, .operator)))
        #expect(rule.admits(principal(.application)))
        #expect(!rule.admits(principal(.user, .citizen)))
        #expect(!rule.admits(principal(.microservice)))
        #expect(!rule.admits(nil))
        #expect(AuthorizationRule(method: "GET", path: "/x", allow: [.user]).admits(principal(.user, .resident)))
    }
}
