import CMCCore
import NIOConcurrencyHelpers

/// The rules in force, read on every request; replaced whole when an admin changes them.
public final class AuthorizationRules: Sendable {
    public let routes: [Route]
    private let current: NIOLockedValueBox<[String: AuthorizationRule]>

    public init(routes: [Route]) {
        self.routes = routes
        self.current = NIOLockedValueBox(Dictionary(routes.map { ($0.defaultRule.key, $0.defaultRule) }, uniquingKeysWith: { a, _ in a }))
    }

    public var defaults: [AuthorizationRule] { routes.map(\.defaultRule) }

    public var rules: [AuthorizationRule] {
        current.withLockedValue { rules in rules.values.sorted { ($0.path, $0.method) < ($1.path, $1.method) } }
    }

    public func rule(method: String, path: String) -> AuthorizationRule? {
        current.withLockedValue { $0["\(method) \(path)"] }
    }

    /// Checks a proposed rule set: every rule names a real route, once; the rules themselves stay
    /// editable by admins so nobody can lock the platform.
    public func validate(_ rules: [AuthorizationRule]) throws {
        let known = Set(routes.map { "\($0.method) \($0.path)" })
        var seen = Set<String>()
        for (index, rule) in rules.enumerated() {
            guard known.contains(rule.key) else {
                throw APIError.invalid("rules[\(index)]", "no route \(rule.key); see GET /auth/rules for the routes")
            }
            guard seen.insert(rule.key).inserted else {
                throw APIError.invalid("rules[\(index)]", "\(rule.key) appears twice")
            }
            guard Set(rule.allow).count == rule.allow.count else {
                throw APIError.invalid("rules[\(index)].allow", "names an audience twice")
            }
        }
        for method in ["GET", "PUT", "DELETE"] {
            let rule = rules.first { $0.method == method && $0.path == "/auth/rules" }
            if let rule, !rule.allow.contains(.admin) {
                throw APIError.invalid("rules", "\(method) /auth/rules must stay open to admin")
            }
        }
    }

    /// Routes missing from `rules` keep their defaults.
    public func replace(with rules: [AuthorizationRule]) {
        var merged = Dictionary(defaults.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for rule in rules { merged[rule.key] = rule }
        current.withLockedValue { $0 = merged }
    }
}
