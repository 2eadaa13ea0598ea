import Hummingbird

/// The request context of every route: the verified caller, once the authorization middleware ran.
public struct CMCRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.principal = nil
    }

    /// The caller, for routes whose rule does not admit anonymous callers.
    public func requirePrincipal() throws -> Principal {
        guard let principal else { throw APIError.unauthorized("a bearer token is required") }
        return principal
    }
}

import CMCCore
