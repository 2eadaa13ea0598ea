import Auth
import CMCCore
import CMCHTTP
import Foundation
import Hummingbird

/// `/users`: sign-up, sign-in, the caller's own account, and account management for admins.
public struct UserController: HTTPController {
    let repository: any UserRepository
    let hasher: PasswordHasher
    let budget: PasswordCheckBudget
    let authority: TokenAuthority
    let attempts: SigninAttempts
    let tokenLifetime: Duration
    /// Other services' resources that go with a deleted account.
    let dependents: [any AccountDependents]

    public init(repository: any UserRepository, attempts: SigninAttempts, hasher: PasswordHasher, authority: TokenAuthority,
                budget: PasswordCheckBudget = .init(), tokenLifetime: Duration = .seconds(86400), dependents: [any AccountDependents] = []) {
        self.repository = repository
        self.hasher = hasher
        self.budget = budget
        self.authority = authority
        self.attempts = attempts
        self.tokenLifetime = tokenLifetime
        self.dependents = dependents
    }

    public static let endpoints: [Endpoint<Self>] = [
        Endpoint(.post, "/users", allow: Audience.everyone, Self.signUp),
        Endpoint(.post, "/users/signin", allow: Audience.everyone, Self.signIn),
        Endpoint(.get, "/users/me", allow: [.user], Self.me),
        Endpoint(.get, "/users", allow: Audience.admins, Self.list),
        Endpoint(.get, "/users/{id}", allow: Audience.people, Self.get),
        Endpoint(.patch, "/users/{id}", allow: Audience.people, Self.update),
        Endpoint(.delete, "/users/{id}", allow: Audience.people, Self.delete),
    ]

    // MARK: Bodies

    struct SignUp: Decodable {
        let email: String
        let password: String
        let name: String
        enum CodingKeys: String, CodingKey, CaseIterable { case email, password, name }
        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            email = try c.decode(String.self, forKey: .email)
            password = try c.decode(String.self, forKey: .password)
            name = try c.decode(String.self, forKey: .name)
        }
    }

    struct SignIn: Decodable {
        let email: String
        let password: String
        enum CodingKeys: String, CodingKey, CaseIterable { case email, password }
        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            email = try c.decode(String.self, forKey: .email)
            password = try c.decode(String.self, forKey: .password)
        }
    }

    struct Patch: Decodable {
        let email: String?
        let password: String?
        let name: String?
        let role: Role?
        enum CodingKeys: String, CodingKey, CaseIterable { case email, password, name, role }
        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            email = try c.decodeIfPresent(String.self, forKey: .email)
            password = try c.decodeIfPresent(String.self, forKey: .password)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            if let raw = try c.decodeIfPresent(String.self, forKey: .role) {
                guard let role = Role(rawValue: raw) else {
                    throw APIError.invalid("role", "must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                self.role = role
            } else {
                role = nil
            }
        }
    }

    struct Page: Encodable, Sendable {
        let users: [User]
        let nextCursor: String?
    }

    // MARK: Handlers

    @Sendable func signUp(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<User> {
        let body = try await request.decodeJSON(as: SignUp.self)
        let user = try await budget.spend(address: context.clientAddress) {
            try await create(email: body.email, password: body.password, name: body.name, role: .citizen)
        }
        return JSONResponse(user, status: .created)
    }

    /// Creates an account; used by sign-up, by `cmc admin create` and for the first admin.
    public func create(email: String, password: String, name: String, role: Role) async throws -> User {
        let email = try Email.normalize(email)
        try Password.validate(password)
        let name = try DisplayName.validate(name)
        let now = Timestamp.now()
        let user = User(id: UUID().uuidString.lowercased(), email: email, name: name, role: role, createdAt: now, updatedAt: now)
        try await repository.insert(StoredUser(user: user, passwordHash: try await hasher.hash(password)))
        return user
    }

    /// Creates the admin named by `CMC_ADMIN_EMAIL` on a platform that has no admin yet. Once one
    /// exists (whatever its e-mail address became) the variables are not read again, and an
    /// account someone else signed up with that address is never made an admin.
    public func ensureAdmin(email: String, password: String) async throws -> User? {
        guard try await repository.countAdmins() == 0 else { return nil }
        guard try await repository.find(email: try Email.normalize(email)) == nil else {
            throw APIError.conflict("CMC_ADMIN_EMAIL names an existing account that is not an admin; choose another address")
        }
        return try await create(email: email, password: password, name: "Administrator", role: .admin)
    }

    /// Five wrong passwords in a row from one address lock that address out of that account (30 s,
    /// then twice as long after each further failure) while the owner elsewhere still signs in.
    /// An e-mail address without an account answers exactly the same, 401 then 429.
    @Sendable func signIn(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<TokenAuthority.IssuedToken> {
        let body = try await request.decodeJSON(as: SignIn.self)
        let denied = APIError.unauthorized("email or password is wrong")
        let email = try? Email.normalize(body.email)
        let account = email ?? String(body.email.prefix(254)).lowercased()
        let address = context.clientAddress
        let now = Timestamp.now()
        if case .locked(let until) = try await attempts.take(account: account, address: address, now: now) {
            let seconds = max(1, (until.microseconds - now.microseconds + 999_999) / 1_000_000)
            throw APIError(.tooManyRequests, code: "account_locked",
                           message: "too many failed sign-ins; try again in \(seconds) s", headers: [.retryAfter: "\(seconds)"])
        }
        let stored = try await budget.spend(address: address) { () async throws -> StoredUser in
            guard let email, let stored = try await repository.find(email: email) else {
                // Same cost as a real check, so timing does not reveal which emails exist.
                _ = try await hasher.hash(body.password)
                throw denied
            }
            guard try await hasher.verify(body.password, hash: stored.passwordHash) else { throw denied }
            return stored
        }
        try await attempts.clear(account: account, address: address)
        let token = try await authority.issue(kind: .user, subject: stored.user.id, role: stored.user.role, lifetime: tokenLifetime)
        return JSONResponse(token)
    }

    @Sendable func me(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<User> {
        let caller = try context.requirePrincipal()
        guard let stored = try await repository.find(id: caller.subject) else { throw APIError.notFound("this account no longer exists") }
        return JSONResponse(stored.user)
    }

    @Sendable func list(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Page> {
        let query = try QueryParameters(request, allowed: ["limit", "cursor"])
        let limit = try query.int("limit", range: 1...1000) ?? 100
        let users = try await repository.list(limit: limit, after: try query.string("cursor").map { try Cursor.decode($0, field: "cursor") })
        return JSONResponse(Page(users: users, nextCursor: users.count == limit ? users.last.map { Cursor.encode($0.id) } : nil))
    }

    /// A user sees and changes their own account; admins and services see every account.
    func authorizedUser(_ id: String, _ context: CMCRequestContext) async throws -> StoredUser {
        let caller = try context.requirePrincipal()
        guard caller.isPrivileged || (caller.kind == .user && caller.subject == id) else {
            throw APIError.notFound("no user \(id)")
        }
        guard let stored = try await repository.find(id: id) else { throw APIError.notFound("no user \(id)") }
        return stored
    }

    @Sendable func get(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<User> {
        JSONResponse(try await authorizedUser(try context.parameters.require("id"), context).user)
    }

    @Sendable func update(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<User> {
        var stored = try await authorizedUser(try context.parameters.require("id"), context)
        let caller = try context.requirePrincipal()
        let patch = try await request.decodeJSON(as: Patch.self)
        if let email = patch.email { stored.user.email = try Email.normalize(email) }
        if let name = patch.name {
            stored.user.name = try DisplayName.validate(name)
        }
        var retire = false
        if let password = patch.password {
            try Password.validate(password)
            stored.passwordHash = try await hasher.hash(password)
            retire = true
        }
        if let role = patch.role, role != stored.user.role {
            guard caller.isPrivileged else { throw APIError.forbidden("only an admin may change a role") }
            if stored.user.role == .admin, try await repository.countAdmins() <= 1 {
                throw APIError.conflict("the last admin cannot lose the admin role")
            }
            stored.user.role = role
            retire = true
        }
        stored.user.updatedAt = .now()
        // Tokens carry the role and stand for the password they were signed in with; retired first,
        // so a failure in between costs a sign-in rather than leaving the old tokens working.
        if retire { try await authority.retireTokens(of: .user(stored.user.id)) }
        try await repository.update(stored)
        return JSONResponse(stored.user)
    }

    @Sendable func delete(_ request: Request, context: CMCRequestContext) async throws -> HTTPResponse.Status {
        let stored = try await authorizedUser(try context.parameters.require("id"), context)
        if stored.user.role == .admin, try await repository.countAdmins() <= 1 {
            throw APIError.conflict("the last admin cannot be deleted")
        }
        // The tokens first (an app's token checks its owner's stamp too), then what the account owns.
        try await authority.retireTokens(of: .user(stored.user.id))
        for dependent in dependents { try await dependent.removeAll(ownedBy: stored.user.id) }
        _ = try await repository.delete(id: stored.user.id)
        return .noContent
    }
}
