/// The three kinds of token the platform issues, as in CMC.
public enum TokenKind: String, Codable, Sendable, CaseIterable {
    /// A service of the platform calling another.
    case microservice
    /// A person signed in through the User service.
    case user
    /// A third-party application signed in through the App service, acting for its owner.
    case application
}

/// What a user may do; stored on the user and carried in user tokens.
public enum Role: String, Codable, Sendable, CaseIterable {
    case admin
    case `operator`
    case citizen
    case resident
}
