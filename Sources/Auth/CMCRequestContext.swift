import Hummingbird
import HummingbirdWebSocket

/// The request context of every route: the verified caller, once the authorization middleware ran.
public struct CMCRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?
    public let webSocket: WebSocketHandlerReference<Self>

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.principal = nil
        self.webSocket = .init()
    }

    /// The caller, for routes whose rule does not admit anonymous callers.
    public func requirePrincipal() throws -> Principal {
        guard let principal else { throw APIError.unauthorized("a bearer token is required") }
        return principal
    }
}

import CMCCore
