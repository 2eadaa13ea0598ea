import CMCCore
import Hummingbird

/// One route of a controller, declared once: its method and path, who may call it until an admin
/// changes its rule, and what answers it. The router's registration and the default rules of
/// `/auth/rules` both come from the controller's list, so they cannot drift apart.
public struct Endpoint<Controller: Sendable>: Sendable {
    public let route: Route
    let register: @Sendable (Controller, Router<CMCRequestContext>) -> Void

    /// A route answered by one of the controller's handlers, usually an unapplied method (`Self.list`).
    public init<Output: ResponseGenerator>(
        _ method: HTTPRequest.Method, _ path: String, allow: [Audience],
        _ handler: @escaping @Sendable (Controller) -> @Sendable (Request, CMCRequestContext) async throws -> Output
    ) {
        self.init(Route(method.rawValue, path, allow: allow)) { controller, path, router in
            router.on(path, method: method, use: handler(controller))
        }
    }

    /// A route that registers itself some other way (a WebSocket upgrade): `register` adds the
    /// route at the path it is given and no other; the router test compares the two.
    public init(_ route: Route, register: @escaping @Sendable (Controller, RouterPath, Router<CMCRequestContext>) -> Void) {
        self.route = route
        self.register = { controller, router in register(controller, RouterPath(route.path), router) }
    }
}

/// A controller: the HTTP side of a service, its routes declared in one list.
public protocol HTTPController: Sendable {
    static var endpoints: [Endpoint<Self>] { get }
}

extension HTTPController {
    /// The routes with their default rules.
    public static var routes: [Route] { endpoints.map(\.route) }

    public func addRoutes(to router: Router<CMCRequestContext>) {
        for endpoint in Self.endpoints { endpoint.register(self, router) }
    }
}
