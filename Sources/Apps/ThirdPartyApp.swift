import CMCCore

/// An application registered by a user; it signs in with its id and secret to act for that user.
public struct ThirdPartyApp: Codable, Sendable, Equatable {
    public let id: String
    public let ownerID: String
    public var name: String
    public var description: String
    public let createdAt: Timestamp
    public var updatedAt: Timestamp
}

/// Returned once, when the app is registered or its secret rotated.
public struct AppCredentials: Codable, Sendable {
    public let app: ThirdPartyApp
    public let secret: String
}
