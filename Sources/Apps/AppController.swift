import Auth
import CMCCore
import CMCHTTP
import Foundation
import Hummingbird

/// `/apps`: third-party applications, their secrets, and their sign-in.
public struct AppController: HTTPController {
    let repository: any AppRepository
    let authority: TokenAuthority
    let tokenLifetime: Duration

    public init(repository: any AppRepository, authority: TokenAuthority, tokenLifetime: Duration = .seconds(86400)) {
        self.repository = repository
        self.authority = authority
        self.tokenLifetime = tokenLifetime
    }

    public static let endpoints: [Endpoint<Self>] = [
        Endpoint(.post, "/apps", allow: [.user], Self.register),
        Endpoint(.get, "/apps", allow: Audience.people, Self.list),
        Endpoint(.post, "/apps/signin", allow: Audience.everyone, Self.signIn),
        Endpoint(.get, "/apps/{id}", allow: Audience.people, Self.get),
        Endpoint(.patch, "/apps/{id}", allow: Audience.people, Self.update),
        Endpoint(.delete, "/apps/{id}", allow: Audience.people, Self.delete),
        Endpoint(.post, "/apps/{id}/secret", allow: Audience.people, Self.rotateSecret),
    ]

    struct Registration: Decodable {
        let name: String?
        let description: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case name, description }
        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            description = try c.decodeIfPresent(String.self, forKey: .description)
        }
    }

    struct SignIn: Decodable {
        let id: String
        let secret: String
        enum CodingKeys: String, CodingKey, CaseIterable { case id, secret }
        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            secret = try c.decode(String.self, forKey: .secret)
        }
    }

    struct Page: Encodable, Sendable {
        let apps: [ThirdPartyApp]
        let nextCursor: String?
    }

    static func validName(_ name: String?) throws -> String? {
        guard let name else { return nil }
        return try DisplayName.validate(name)
    }

    static func validDescription(_ text: String?) throws -> String? {
        guard let text else { return nil }
        guard text.unicodeScalars.count <= 2000 else { throw APIError.invalid("description", "must have at most 2000 characters") }
        return text
    }

    @Sendable func register(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<AppCredentials> {
        let caller = try context.requirePrincipal()
        let body = try await request.decodeJSON(as: Registration.self)
        guard let name = try Self.validName(body.name) else { throw APIError.invalid("name", "is required") }
        let now = Timestamp.now()
        let app = ThirdPartyApp(id: UUID().uuidString.lowercased(), ownerID: caller.subject, name: name,
                                description: try Self.validDescription(body.description) ?? "", createdAt: now, updatedAt: now)
        let secret = AppSecret.generate()
        try await repository.insert(app, secretHash: AppSecret.hash(secret))
        return JSONResponse(AppCredentials(app: app, secret: secret), status: .created)
    }

    @Sendable func signIn(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<TokenAuthority.IssuedToken> {
        let body = try await request.decodeJSON(as: SignIn.self)
        guard let found = try await repository.find(id: body.id), AppSecret.matches(body.secret, hash: found.secretHash) else {
            throw APIError.unauthorized("application id or secret is wrong")
        }
        let token = try await authority.issue(kind: .application, subject: found.app.id, owner: found.app.ownerID, lifetime: tokenLifetime)
        return JSONResponse(token)
    }

    @Sendable func list(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Page> {
        let caller = try context.requirePrincipal()
        let query = try QueryParameters(request, allowed: ["limit", "cursor", "owner"])
        let limit = try query.int("limit", range: 1...1000) ?? 100
        let owner = caller.isPrivileged ? query.string("owner") : caller.subject
        let apps = try await repository.list(ownerID: owner, limit: limit, after: try query.string("cursor").map { try Cursor.decode($0, field: "cursor") })
        return JSONResponse(Page(apps: apps, nextCursor: apps.count == limit ? apps.last.map { Cursor.encode($0.id) } : nil))
    }

    /// Only the owner or an admin reaches an app; others are told it does not exist.
    func ownedApp(_ context: CMCRequestContext) async throws -> ThirdPartyApp {
        let caller = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        guard let found = try await repository.find(id: id), caller.isPrivileged || found.app.ownerID == caller.subject else {
            throw APIError.notFound("no application \(id)")
        }
        return found.app
    }

    @Sendable func get(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<ThirdPartyApp> {
        JSONResponse(try await ownedApp(context))
    }

    @Sendable func update(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<ThirdPartyApp> {
        var app = try await ownedApp(context)
        let body = try await request.decodeJSON(as: Registration.self)
        if let name = try Self.validName(body.name) { app.name = name }
        if let description = try Self.validDescription(body.description) { app.description = description }
        app.updatedAt = .now()
        try await repository.update(app)
        return JSONResponse(app)
    }

    @Sendable func delete(_ request: Request, context: CMCRequestContext) async throws -> HTTPResponse.Status {
        let app = try await ownedApp(context)
        // Its tokens first: a crash in between leaves an app that must sign in again, not tokens without an app.
        try await authority.retireTokens(of: .application(app.id))
        try await repository.delete(id: app.id)
        return .noContent
    }

    @Sendable func rotateSecret(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<AppCredentials> {
        let app = try await ownedApp(context)
        let secret = AppSecret.generate()
        try await repository.updateSecret(id: app.id, secretHash: AppSecret.hash(secret))
        // A new secret is for when the old one leaked: tokens signed in with it go too.
        try await authority.retireTokens(of: .application(app.id))
        return JSONResponse(AppCredentials(app: app, secret: secret))
    }
}
