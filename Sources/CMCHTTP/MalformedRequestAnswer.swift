import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Answers a request the HTTP parser refused (headers over its 80 KiB, a broken request line)
/// with `{"error": ...}` and closes the connection.
///
/// Without it such a request gets no answer when it is the first on its connection: the
/// WebSocket upgrade handler waits for a request head that never comes and the client hangs.
/// The handler sits right after the parser, so it sees the parser's error before anything else.
final class MalformedRequestAnswer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// A response has begun and not ended: a second one cannot be written into it.
    private var answering = false
    private var closing = false

    /// A WebSocket speaks frames from here on, which this handler must not see.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is HTTPServerUpgradeEvents {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? HTTPParserError, !closing else {
            context.fireErrorCaught(error)
            return
        }
        closing = true
        if !answering {
            let (status, code, message): (HTTPResponseStatus, String, String) = switch error {
            case .headerOverflow: (.requestHeaderFieldsTooLarge, "headers_too_large", "request headers must be under 80 KiB")
            default: (.badRequest, "malformed_request", "the request is not valid HTTP/1.1")
            }
            var body = context.channel.allocator.buffer(capacity: 128)
            body.writeString(#"{"error":{"code":"\#(code)","message":"\#(message)"}}"#)
            let head = HTTPResponseHead(version: .http1_1, status: status, headers: [
                "Content-Type": "application/json; charset=utf-8", "Content-Length": "\(body.readableBytes)", "Connection": "close",
            ])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            // Closing at once, with the rest of the request unread, would make the kernel reset
            // the connection and the client might lose the answer: end our side, let the input
            // drain for a moment, then close.
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                channel.close(mode: .output, promise: nil)
                channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
            }
        } else {
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // After our answer, nothing else is written on this connection.
        guard !closing else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: answering = true
        case .end: answering = false
        default: break
        }
        context.write(data, promise: promise)
    }
}

/// A server child channel with `MalformedRequestAnswer` right after the HTTP parser.
public struct AnsweringMalformedRequests<Inner: ServerChildChannel>: ServerChildChannel {
    public typealias Value = Inner.Value
    let inner: Inner

    public init(_ inner: Inner) { self.inner = inner }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            // Added last now; the handlers that serve requests are added after it, once the
            // first request head has come.
            try channel.pipeline.syncOperations.addHandler(MalformedRequestAnswer())
            return value
        }
    }

    public func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
