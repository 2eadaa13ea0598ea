import Foundation
import CMCCore
import Hummingbird

/// Verifies the bearer token, if any, and applies the rule of the matched route.
///
/// Runs after routing, so it sees the route's pattern (`/devices/{id}`), the key rules are written in.
public struct AuthorizationMiddleware: RouterMiddleware {
    public typealias Context = CMCRequestContext
    let authority: TokenAuthority
    let rules: AuthorizationRules

    public init(authority: TokenAuthority, rules: AuthorizationRules) {
        self.authority = authority
        self.rules = rules
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let token = try Self.token(request, path: context.endpointPath) {
            do {
                context.principal = try await authority.verify(token)
            } catch {
                throw APIError.unauthorized(error.description)
            }
        }
        // No route matched: let the router answer 404 rather than hide it behind a 403.
        guard let path = context.endpointPath else { return try await next(request, context) }
        guard let rule = rules.rule(method: request.method.rawValue, path: path) else {
            throw APIError.forbidden("no authorization rule admits \(request.method) \(path)")
        }
        guard rule.admits(context.principal) else {
            if context.principal == nil { throw APIError.unauthorized("a bearer token is required for \(request.method) \(path)") }
            throw APIError.forbidden("a \(context.principal!.kind.rawValue) token\(context.principal!.role.map { " with role \($0.rawValue)" } ?? "") may not call \(request.method) \(path)")
        }
        return try await next(request, context)
    }

    /// The bearer token of the `Authorization` header. Browsers cannot set headers on an
    /// EventSource or a WebSocket, so the event stream also takes it as `?access_token=`
    /// (RFC 6750 §2.3); no other route does.
    static func token(_ request: Request, path: String?) throws -> String? {
        if let header = request.headers[.authorization] {
            // Every authenticated request passes here: compare the scheme alone, trim without Foundation.
            guard header.prefix(7).lowercased() == "bearer " else {
                throw APIError.unauthorized("Authorization header must be 'Bearer <token>'")
            }
            var token = header.dropFirst(7)
            while token.first == " " || token.first == "\t" { token = token.dropFirst() }
            while token.last == " " || token.last == "\t" { token = token.dropLast() }
            return String(token)
        }
        guard request.method == .get, let path, path == "/events" || path.hasPrefix("/events/") else { return nil }
        guard let token = request.uri.queryParameters["access_token"], !token.isEmpty else { return nil }
        return String(token)
    }
}
