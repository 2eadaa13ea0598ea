/// Who an authorization rule lets through.
public enum Audience: String, Codable, Sendable, CaseIterable, Hashable {
    /// No token needed.
    case anonymous
    case microservice
    case application
    /// Any signed-in user, whatever the role.
    case user
    case admin
    case `operator`
    case citizen
    case resident

    init(_ role: Role) {
        switch role {
        case .admin: self = .admin
        case .operator: self = .operator
        case .citizen: self = .citizen
        case .resident: self = .resident
        }
    }

    public static let everyone: [Audience] = [.anonymous]
    public static let signedIn: [Audience] = [.microservice, .application, .user]
    public static let people: [Audience] = [.microservice, .user]
    public static let admins: [Audience] = [.microservice, .admin]
}
