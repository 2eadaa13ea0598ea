import CMCCore
import HTTPTypes
import Hummingbird

/// A request for a path the platform serves, with a method it does not serve there, is answered
/// 405 with the methods it does serve in `Allow` (RFC 9110 15.5.6), rather than the router's 404:
/// a client learns that the resource exists and how to use it.
public struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Path templates (`/devices/{id}/data`) by segment, with the methods served on each.
    let templates: [(segments: [Substring?], methods: Set<String>)]

    /// `routes`: method and path template of every route, as declared.
    public init(routes: [(method: String, path: String)]) {
        var methods: [String: Set<String>] = [:]
        for route in routes { methods[route.path, default: []].insert(route.method) }
        templates = methods.map { path, methods in
            (path.split(separator: "/").map { $0.hasPrefix("{") ? nil : $0 }, methods)
        }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let method = request.method.rawValue
        // HEAD and OPTIONS are the server's own business; only methods a route could serve are checked.
        guard method != "HEAD", method != "OPTIONS" else { return try await next(request, context) }
        let segments = request.uri.path.split(separator: "/")
        var allowed = Set<String>()
        for template in templates where template.segments.count == segments.count
            && zip(template.segments, segments).allSatisfy({ $0 == nil || $0 == $1 }) {
            allowed.formUnion(template.methods)
        }
        guard !allowed.isEmpty, !allowed.contains(method) else { return try await next(request, context) }
        throw APIError(.methodNotAllowed, code: "method_not_allowed", message: "\(method) is not served on \(request.uri.path)",
                       headers: [.allow: allowed.sorted().joined(separator: ", ")])
    }
}
