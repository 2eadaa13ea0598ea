import CMCCore
import CMCHTTP
import Hummingbird

/// `/auth`: public keys, token verification and revocation, microservice tokens, authorization rules.
public struct AuthController: HTTPController {
    let authority: TokenAuthority
    let rules: AuthorizationRules
    let microserviceTokenLifetime: Duration

    /// A service's token lasts 30 days unless asked otherwise, a year at most: a stolen one is not
    /// good for ever, and `DELETE /auth/tokens/microservice/{name}` retires it sooner.
    public static let maximumMicroserviceLifetimeSeconds = 365 * 86400

    public init(authority: TokenAuthority, rules: AuthorizationRules, microserviceTokenLifetime: Duration = .seconds(30 * 86400)) {
        self.authority = authority
        self.rules = rules
        self.microserviceTokenLifetime = microserviceTokenLifetime
    }

    public static let endpoints: [Endpoint<Self>] = [
        Endpoint(.get, "/auth/jwks", allow: Audience.everyone) { controller in { _, _ in JSONResponse(controller.authority.jwks) } },
        Endpoint(.post, "/auth/tokens/verify", allow: Audience.signedIn, Self.verify),
        Endpoint(.post, "/auth/tokens/revoke", allow: Audience.signedIn, Self.revoke),
        Endpoint(.post, "/auth/tokens/microservice", allow: Audience.admins, Self.issueMicroservice),
        Endpoint(.delete, "/auth/tokens/microservice/{name}", allow: Audience.admins, Self.retireMicroservice),
        Endpoint(.get, "/auth/rules", allow: Audience.admins) { controller in { _, _ in JSONResponse(RuleSet(rules: controller.rules.rules)) } },
        Endpoint(.put, "/auth/rules", allow: Audience.admins, Self.replaceRules),
        Endpoint(.delete, "/auth/rules", allow: Audience.admins, Self.resetRules),
    ]

    /// Back to every route's default rule.
    @Sendable func resetRules(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<RuleSet> {
        try await authority.repository.saveRules(nil)
        rules.replace(with: [])
        return JSONResponse(RuleSet(rules: rules.rules))
    }

    struct TokenBody: Decodable {
        let token: String
        enum CodingKeys: String, CodingKey, CaseIterable { case token }
        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            token = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .token)
        }
    }

    struct Verification: Encodable, Sendable {
        let valid: Bool
        let reason: String?
        let principal: Principal?
    }

    @Sendable func verify(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Verification> {
        let body = try await request.decodeJSON(as: TokenBody.self)
        do {
            let principal = try await authority.verify(body.token)
            return JSONResponse(Verification(valid: true, reason: nil, principal: principal))
        } catch {
            return JSONResponse(Verification(valid: false, reason: error.description, principal: nil))
        }
    }

    /// A caller revokes its own tokens (sign-out); admins and services revoke anyone's.
    @Sendable func revoke(_ request: Request, context: CMCRequestContext) async throws -> HTTPResponse.Status {
        let caller = try context.requirePrincipal()
        let body = try await request.decodeJSON(as: TokenBody.self)
        let target: Principal
        do {
            target = try await authority.verify(body.token)
        } catch .revoked, .expired {
            return .noContent  // already unusable
        } catch {
            throw APIError.invalid("token", error.description)
        }
        guard caller.isPrivileged || (caller.kind == target.kind && caller.subject == target.subject) else {
            throw APIError.forbidden("only the token's holder or an admin may revoke it")
        }
        try await authority.revoke(target)
        return .noContent
    }

    struct MicroserviceRequest: Decodable {
        let name: String
        let lifetimeSeconds: Int?
        enum CodingKeys: String, CodingKey, CaseIterable { case name, lifetimeSeconds }
        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            lifetimeSeconds = try container.decodeIfPresent(Int.self, forKey: .lifetimeSeconds)
        }
    }

    @Sendable func issueMicroservice(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<TokenAuthority.IssuedToken> {
        let body = try await request.decodeJSON(as: MicroserviceRequest.self)
        guard ServiceName.isValid(body.name) else { throw APIError.invalid("name", "must be 1-64 letters, digits, '-' or '_'") }
        var lifetime = microserviceTokenLifetime
        if let seconds = body.lifetimeSeconds {
            guard (60...Self.maximumMicroserviceLifetimeSeconds).contains(seconds) else {
                throw APIError.invalid("lifetimeSeconds", "must be from 60 to \(Self.maximumMicroserviceLifetimeSeconds)")
            }
            lifetime = .seconds(seconds)
        }
        return JSONResponse(try await authority.issue(kind: .microservice, subject: body.name, lifetime: lifetime), status: .created)
    }

    /// Every token issued so far to the service `name` stops working; new ones can be issued.
    @Sendable func retireMicroservice(_ request: Request, context: CMCRequestContext) async throws -> HTTPResponse.Status {
        let name = try context.parameters.require("name")
        guard ServiceName.isValid(name) else { throw APIError.invalid("name", "must be 1-64 letters, digits, '-' or '_'") }
        try await authority.retireTokens(of: .microservice(name))
        return .noContent
    }

    struct RuleSet: Codable, Sendable {
        let rules: [AuthorizationRule]
        enum CodingKeys: String, CodingKey, CaseIterable { case rules }
        init(rules: [AuthorizationRule]) { self.rules = rules }
        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            rules = try decoder.container(keyedBy: CodingKeys.self).decode([AuthorizationRule].self, forKey: .rules)
        }
    }

    @Sendable func replaceRules(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<RuleSet> {
        let body = try await request.decodeJSON(as: RuleSet.self)
        try rules.validate(body.rules)
        try await authority.repository.saveRules(body.rules)
        rules.replace(with: body.rules)
        return JSONResponse(RuleSet(rules: rules.rules))
    }
}

public enum ServiceName {
    public static func isValid(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
