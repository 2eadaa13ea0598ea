import CMCCore

/// Which callers may use one method on one route; the path uses the router's `{param}` form.
public struct AuthorizationRule: Codable, Sendable, Hashable {
    public var method: String
    public var path: String
    public var allow: [Audience]

    public init(method: String, path: String, allow: [Audience]) {
        self.method = method
        self.path = path
        self.allow = allow
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case method, path, allow }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        method = try container.decode(String.self, forKey: .method).uppercased()
        path = try container.decode(String.self, forKey: .path)
        allow = try container.decode([Audience].self, forKey: .allow)
    }

    public func admits(_ principal: Principal?) -> Bool {
        if allow.contains(.anonymous) { return true }
        guard let principal else { return false }
        return !principal.audiences.isDisjoint(with: allow)
    }

    var key: String { "\(method) \(path)" }
}

/// A route the platform serves, with the rule it has until an admin changes it.
public struct Route: Sendable, Hashable {
    public let method: String
    public let path: String
    public let defaultAllow: [Audience]

    public init(_ method: String, _ path: String, allow: [Audience]) {
        self.method = method
        self.path = path
        self.defaultAllow = allow
    }

    public var defaultRule: AuthorizationRule { AuthorizationRule(method: method, path: path, allow: defaultAllow) }
}
