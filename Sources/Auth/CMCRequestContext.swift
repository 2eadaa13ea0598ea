import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of every route: the verified caller, once the authorization middleware ran.
public struct CMCRequestContext: RequestContext, WebSocketRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?
    public let webSocket: WebSocketHandlerReference<Self>
    /// The peer of the connection (nil in the router tests, which have no socket).
    public let remoteAddress: SocketAddress?
    /// The connection, for streams that must drop a client that stopped reading.
    public let channel: any Channel

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.principal = nil
        self.webSocket = .init()
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }

    /// The client's IP address, as sign-in throttling keys it.
    public var clientAddress: String { remoteAddress?.ipAddress ?? "-" }

    /// The caller, for routes whose rule does not admit anonymous callers.
    public func requirePrincipal() throws -> Principal {
        guard let principal else { throw APIError.unauthorized("a bearer token is required") }
        return principal
    }
}

import CMCCore
