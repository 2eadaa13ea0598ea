import Auth
import CMCCore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import ServiceLifecycle

/// `/events`: the event stream for HTTP clients, as Server-Sent Events or over a WebSocket,
/// filtered by type, category, device and bounding box, and limited to the devices the caller
/// may read (anonymous callers see public devices).
public struct EventController: Sendable {
    let bus: EventBus
    /// How often an idle stream sends a comment, so proxies and browsers keep it open.
    let heartbeat: Duration

    public init(bus: EventBus, heartbeat: Duration = .seconds(15)) {
        self.bus = bus
        self.heartbeat = heartbeat
    }

    public static let routes: [Route] = [
        Route("GET", "/events", allow: Audience.everyone),
        Route("GET", "/events/ws", allow: Audience.everyone),
    ]

    public func addRoutes(to group: RouterGroup<CMCRequestContext>) {
        group.get(use: serverSentEvents)
        group.ws("ws", shouldUpgrade: { request, context in
            // Parsed here so a bad filter is a 400 rather than a socket that closes at once.
            _ = try Self.filter(request, principal: context.principal)
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                throw APIError.badRequest("GET /events/ws is a WebSocket: send Upgrade: websocket", code: "upgrade_required")
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
            boundingBox: try query.string("bbox").map { try EventFilter.BoundingBox(parsing: $0, field: "bbox") }
        )
    }

    @Sendable func serverSentEvents(_ request: Request, context: CMCRequestContext) async throws -> Response {
        let filter = try Self.filter(request, principal: context.principal)
        let events = bus.subscribe(filter)
        let heartbeat = self.heartbeat
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let (chunks, sink) = AsyncStream<ByteBuffer>.makeStream()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in events {
                        var buffer = ByteBuffer()
                        buffer.writeString("event: \(event.kind.rawValue)\ndata: ")
                        buffer.writeBytes(event.json)
                        buffer.writeString("\n\n")
                        sink.yield(buffer)
                    }
                    sink.finish()
                }
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: heartbeat)
                        sink.yield(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
                // The first bytes tell the client the stream is open before any event.
                try await writer.write(ByteBuffer(string: ": connected\n\n"))
                try await withGracefulShutdownHandler {
                    for await chunk in chunks { try await writer.write(chunk) }
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
        let events = bus.subscribe(filter)
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
            _ = try await group.next()
            group.cancelAll()
        }
    }
}
