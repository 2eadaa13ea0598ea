import CMCCore

/// Who is calling, as proven by a verified token.
public struct Principal: Sendable, Equatable, Codable {
    public let kind: TokenKind
    /// User id, application id or service name.
    public let subject: String
    /// For user tokens.
    public let role: Role?
    /// For application tokens: the user who registered the application.
    public let owner: String?
    public let tokenID: String
    public let expiresAt: Timestamp
    public let issuedAt: Timestamp

    public init(kind: TokenKind, subject: String, role: Role? = nil, owner: String? = nil, tokenID: String, expiresAt: Timestamp,
                issuedAt: Timestamp = .now()) {
        self.kind = kind
        self.subject = subject
        self.role = role
        self.owner = owner
        self.tokenID = tokenID
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
    }

    /// Sees and changes every resource: admins and the platform's own services.
    public var isPrivileged: Bool { kind == .microservice || role == .admin }

    /// The user whose resources this caller acts on: the user, or the owner of an application.
    public var actingUserID: String? {
        switch kind {
        case .user: subject
        case .application: owner
        case .microservice: nil
        }
    }

    public var audiences: Set<Audience> {
        switch kind {
        case .microservice: return [.microservice]
        case .application: return [.application]
        case .user:
            var set: Set<Audience> = [.user]
            if let role { set.insert(Audience(role)) }
            return set
        }
    }
}
