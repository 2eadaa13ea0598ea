import Auth
import CMCCore
import CMCHTTP
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Metrics
import NIOCore
import ServiceLifecycle

/// `/events`: the event stream for HTTP clients, as Server-Sent Events or over a WebSocket,
/// filtered by type, category, device and bounding box, and limited to the devices the caller
/// may read (anonymous callers see public devices).
public struct EventController: HTTPController {
    let bus: EventBus
    /// Asked while a stream runs whether its token still stands: a stream ends when its token is
    /// revoked, expires or is retired, as the next request with that token would be refused.
    let authority: TokenAuthority
    /// How often an idle stream sends a comment, so proxies and browsers keep it open.
    let heartbeat: Duration
    /// How often a stream opened with a token checks it.
    let tokenCheck: Duration

    /// Open streams, in all and per client address.
    let limits: StreamLimits
    /// What may wait for one client, in the bus and in its response: past it the client is cut off.
    let maximumBacklogBytes: Int

    public init(bus: EventBus, authority: TokenAuthority, limits: StreamLimits = StreamLimits(), maximumBacklogBytes: Int = 2 << 20,
                heartbeat: Duration = .seconds(15), tokenCheck: Duration = .seconds(1)) {
        self.bus = bus
        self.authority = authority
        self.limits = limits
        self.maximumBacklogBytes = maximumBacklogBytes
        self.heartbeat = heartbeat
        self.tokenCheck = tokenCheck
    }

    /// The stream's events, once the limits admit another stream from this address.
    func open(_ filter: EventFilter, address: String) throws -> EventSubscription {
        guard limits.admit(address) else {
            throw APIError(.tooManyRequests, code: "too_many_streams",
                           message: "too many event streams are open (\(limits.perAddress) per address, \(limits.total) in all); close one and retry",
                           headers: [.retryAfter: "5"])
        }
        return bus.subscribe(filter, maximumBytes: maximumBacklogBytes) { [limits] in limits.release(address) }
    }

    /// Returns once `principal`'s token no longer stands.
    func untilTokenLapses(_ principal: Principal) async throws {
        while authority.isCurrent(principal) { try await Task.sleep(for: tokenCheck) }
    }

    public static let endpoints: [Endpoint<Self>] = [
        Endpoint(.get, "/events", allow: Audience.everyone, Self.serverSentEvents),
        Endpoint(Route("GET", "/events/ws", allow: Audience.everyone)) { controller, path, router in controller.addWebSocketRoute(path, to: router) },
    ]

    func addWebSocketRoute(_ path: RouterPath, to router: Router<CMCRequestContext>) {
        router.ws(path, shouldUpgrade: { request, context in
            // Parsed here so a bad filter is a 400 rather than a socket that closes at once.
            _ = try Self.filter(request, principal: context.principal)
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                throw APIError.badRequest("GET /events/ws is a WebSocket: send Upgrade: websocket", code: "upgrade_required")
            }
            guard limits.count < limits.total else {
                throw APIError(.tooManyRequests, code: "too_many_streams", message: "too many event streams are open; retry later", headers: [.retryAfter: "5"])
            }
            return .upgrade([:])
        }, onUpgrade: webSocket)
    }

    static func filter(_ request: Request, principal: Principal?) throws -> EventFilter {
        let query = try QueryParameters(request, allowed: ["type", "category", "device", "bbox", "access_token"])
        func list(_ name: String) -> Set<String>? {
            query.string(name).map { Set($0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }) }
        }
        return EventFilter(
            viewer: .init(principal), kinds: try list("type").map { try EventFilter.kinds($0, field: "type") }, categories: list("category"), devices: list("device"),
            boundingBox: try query.string("bbox").map { try GeoBox(parsing: $0, field: "bbox") }
        )
    }

    @Sendable func serverSentEvents(_ request: Request, context: CMCRequestContext) async throws -> Response {
        let filter = try Self.filter(request, principal: context.principal)
        let events = try open(filter, address: context.clientAddress)
        let heartbeat = self.heartbeat
        let principal = context.principal
        // Chunks taken from the bus and not yet written to the socket: bounded like the bus's part.
        let unwritten = ByteBudget(limit: maximumBacklogBytes)
        let channel = context.channel
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let (chunks, sink) = AsyncStream<ByteBuffer>.makeStream()
            /// Hands a chunk to the writer, or ends the stream of a client that stopped reading.
            @Sendable func hand(_ buffer: ByteBuffer) {
                guard unwritten.reserve(buffer.readableBytes) else {
                    // Its socket is full and its backlog too: the write waiting on it never ends by
                    // itself, so the connection is closed under it.
                    Counter(label: "cmc_events_subscribers_cut_off_total").increment()
                    sink.finish()
                    channel.close(promise: nil)
                    return
                }
                sink.yield(buffer)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in events {
                        var buffer = ByteBuffer()
                        buffer.writeString("event: \(event.kind.rawValue)\ndata: ")
                        buffer.writeBytes(event.json)
                        buffer.writeString("\n\n")
                        hand(buffer)
                    }
                    sink.finish()
                }
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: heartbeat)
                        hand(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
                if let principal {
                    group.addTask {
                        try await untilTokenLapses(principal)
                        sink.finish()
                    }
                }
                // A client that hangs up frees its place now, not at the next write.
                channel.closeFuture.whenComplete { _ in sink.finish() }
                // The first bytes tell the client the stream is open before any event.
                try await writer.write(ByteBuffer(string: ": connected\n\n"))
                try await withGracefulShutdownHandler {
                    for await chunk in chunks {
                        try await writer.write(chunk)
                        unwritten.release(chunk.readableBytes)
                    }
                } onGracefulShutdown: {
                    sink.finish()
                }
                group.cancelAll()
            }
            try await writer.finish(nil)
        })
    }

    @Sendable func webSocket(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter,
                             _ context: WebSocketRouterContext<CMCRequestContext>) async throws {
        let filter = try Self.filter(context.request, principal: context.requestContext.principal)
        let events = try open(filter, address: context.requestContext.clientAddress)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await cancelWhenGracefulShutdown {
                    for await event in events {
                        try await outbound.write(.text(String(decoding: event.json, as: UTF8.self)))
                    }
                }
            }
            group.addTask {
                // Clients only listen; reading lets a close from their side end the stream.
                for try await _ in inbound {}
            }
            if let principal = context.requestContext.principal {
                group.addTask { try await untilTokenLapses(principal) }
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }
}
