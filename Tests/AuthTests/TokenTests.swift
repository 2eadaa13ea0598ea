import Auth
import CMCCore
import CMCTesting
import Crypto
import Foundation
import JWTKit
import Testing

@Suite("Auth tokens")
struct TokenTests {
    @Test("a token verifies with only the published JWKS, as another service would", arguments: TestBackend.all)
    func verifiesWithPublishedKeys(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let jwks = try await t.client.send(.get, "/auth/jwks")
            #expect(jwks.status == .ok)
            let keys = try #require(jwks["keys"] as? [[String: Any]])
            #expect(keys.first?["kty"] as? String == "OKP")
            #expect(keys.first?["d"] == nil, "private part must never be published")

            struct Claims: JWTPayload {
                let sub: SubjectClaim
                let exp: ExpirationClaim
                let kind: String
                func verify(using algorithm: some JWTAlgorithm) async throws { try exp.verifyNotExpired() }
            }
            let collection = JWTKeyCollection()
            for key in keys {
                await collection.add(eddsa: try EdDSA.PublicKey(x: key["x"] as! String, curve: .ed25519), kid: JWKIdentifier(string: key["kid"] as! String))
            }
            let user = try await t.user("ana")
            let claims = try await collection.verify(user.token, as: Claims.self)
            #expect(claims.sub.value == user.id)
            #expect(claims.kind == "user")

            // A token signed by some other key is refused.
            let stranger = JWTKeyCollection()
            await stranger.add(eddsa: try EdDSA.PrivateKey(), kid: JWKIdentifier(string: keys.first!["kid"] as! String))
            let forged = try await stranger.sign(Claims(sub: .init(value: user.id), exp: .init(value: Date().addingTimeInterval(600)), kind: "user"))
            let reply = try await t.client.send(.get, "/users/me", token: forged)
            #expect(reply.status == .unauthorized)
        }
    }

    @Test("a revoked token stops working at once", arguments: TestBackend.all)
    func revocation(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let ana = try await t.user("ana")
            #expect(try await t.client.send(.get, "/users/me", token: ana.token).status == .ok)
            let verify = try await t.client.json(.post, "/auth/tokens/verify", token: ana.token, body: ["token": ana.token])
            #expect(verify["valid"] as? Bool == true)

            // Another user may not revoke Ana's token.
            let bob = try await t.user("bob")
            #expect(try await t.client.send(.post, "/auth/tokens/revoke", token: bob.token, body: ["token": ana.token]).status == .forbidden)

            #expect(try await t.client.send(.post, "/auth/tokens/revoke", token: ana.token, body: ["token": ana.token]).status == .noContent)
            let after = try await t.client.send(.get, "/users/me", token: ana.token)
            #expect(after.status == .unauthorized)
            #expect(after.errorMessage?.contains("revoked") == true)
            let verifyAfter = try await t.client.json(.post, "/auth/tokens/verify", token: t.adminToken, body: ["token": ana.token])
            #expect(verifyAfter["valid"] as? Bool == false)
        }
    }

    @Test("revocations and signing keys survive a restart", arguments: TestBackend.all)
    func survivesRestart(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            let (token, revoked) = try await TestPlatform.run(database: database) { t in
                let ana = try await t.user("ana")
                let bob = try await t.user("bob")
                try await t.client.json(.post, "/auth/tokens/revoke", token: bob.token, body: ["token": bob.token], expect: .noContent)
                return (ana.token, bob.token)
            }
            try await TestPlatform.run(database: database) { (t: TestPlatform) async throws -> Void in
                #expect(try await t.client.send(.get, "/users/me", token: token).status == .ok)
                #expect(try await t.client.send(.get, "/users/me", token: revoked).status == .unauthorized)
            }
        }
    }

    @Test("expired, malformed and non-bearer tokens are refused with 401", arguments: TestBackend.all)
    func refusedTokens(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let expired = try await t.platform.authority.issue(kind: .microservice, subject: "old", lifetime: .seconds(-60))
            let reply = try await t.client.send(.get, "/devices", token: expired.token)
            #expect(reply.status == .unauthorized)
            #expect(reply.errorMessage?.contains("expired") == true)
            #expect(try await t.client.send(.get, "/devices", token: "not.a.jwt").status == .unauthorized)
            let basic = try await t.client.execute(uri: "/devices", method: .get, headers: [.authorization: "Basic YTpi"]) { $0.status }
            #expect(basic == .unauthorized)
        }
    }

    @Test("microservice tokens come from an admin, not from a citizen", arguments: TestBackend.all)
    func microserviceTokens(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let citizen = try await t.user("carla")
            #expect(try await t.client.send(.post, "/auth/tokens/microservice", token: citizen.token, body: ["name": "history"]).status == .forbidden)
            let issued = try await t.client.json(.post, "/auth/tokens/microservice", token: t.adminToken, body: ["name": "history"], expect: .created)
            let token = try #require(issued["token"] as? String)
            let verify = try await t.client.json(.post, "/auth/tokens/verify", token: token, body: ["token": token])
            let principal = try #require(verify["principal"] as? [String: Any])
            #expect(principal["kind"] as? String == "microservice")
            #expect(principal["subject"] as? String == "history")
            #expect(try await t.client.send(.post, "/auth/tokens/microservice", token: t.adminToken, body: ["name": "bad name!"]).status == .badRequest)
        }
    }
}
