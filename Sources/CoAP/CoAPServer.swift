import CCoAP
import CMCCore
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// A CoAP server (RFC 7252) on libcoap, over UDP and, when given a key lookup, DTLS with PSK.
///
/// libcoap is not thread-safe, so everything that touches it runs on one thread of its own. A
/// request is handed to the async `handler` at once and answered as a separate response when the
/// handler returns (libcoap's async support): the loop never waits for storage, and a
/// confirmable request is acknowledged right away so the device does not retransmit meanwhile.
///
/// Run one per process: libcoap 4.3 keeps process-wide state, and two contexts on two threads
/// were seen to lose an answer under load.
public final class CoAPServer: @unchecked Sendable {
    public typealias Handler = @Sendable (CoAPRequest) async -> CoAPResponse
    /// The pre-shared key of a DTLS identity, or nil to refuse the handshake. Called on the I/O
    /// thread, so it must not block.
    public typealias KeyLookup = @Sendable (String) -> [UInt8]?

    public struct Configuration: Sendable {
        public var host: String
        public var port: UInt16
        /// DTLS endpoint; none when nil.
        public var securePort: UInt16?

        public init(host: String = "127.0.0.1", port: UInt16 = 5683, securePort: UInt16? = 5684) {
            self.host = host
            self.port = port
            self.securePort = securePort
        }
    }

    let configuration: Configuration
    let handler: Handler
    let keys: KeyLookup

    /// Wakes the I/O thread for finished requests and for stopping.
    private let wakeFD: Int32
    private let state = NIOLockedValueBox(State())
    // Touched only on the I/O thread.
    private let pskKey = UnsafeMutablePointer<coap_bin_const_t>.allocate(capacity: 1)
    private var pskStorage: UnsafeMutablePointer<UInt8>?
    /// Session references held for requests not yet answered, released before the context is
    /// freed (libcoap asserts no session is still referenced then).
    private var held: [OpaquePointer: Int] = [:]
    /// Bodies arriving in blocks.
    private var bodies = CoAPBodies()

    struct State {
        var finished: [Finished] = []
        var inFlight = 0
        var stopping = false
        var closed = false
    }

    struct Finished {
        let session: SessionPointer
        let token: [UInt8]
        /// The request's type: a confirmable request gets a confirmable separate response.
        let type: coap_pdu_type_t
        let response: CoAPResponse
    }

    struct SessionPointer: @unchecked Sendable { let pointer: OpaquePointer }

    public init(configuration: Configuration, keys: @escaping KeyLookup, handler: @escaping Handler) throws {
        self.configuration = configuration
        self.keys = keys
        self.handler = handler
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else { throw CoAPError("eventfd failed: errno \(errno)") }
        CoAPLibrary.start()
    }

    deinit {
        close(wakeFD)
        pskStorage?.deallocate()
        pskKey.deallocate()
    }

    /// Serves until the task is cancelled; throws if the endpoints cannot be opened.
    public func run() async throws {
        let (exited, exit) = AsyncStream<Void>.makeStream()
        try await withCheckedThrowingContinuation { (started: CheckedContinuation<Void, any Error>) in
            let thread = Thread { [self] in
                loop(started: started)
                exit.finish()
            }
            thread.name = "cmc-coap"
            thread.start()
        }
        await withTaskCancellationHandler {
            for await _ in exited {}
        } onCancel: {
            stop()
        }
    }

    /// Stops taking requests, answers the ones being handled (for up to five seconds) and closes.
    public func stop() {
        state.withLockedValue { $0.stopping = true }
        wake()
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: The I/O thread

    private func loop(started: CheckedContinuation<Void, any Error>) {
        guard let context = coap_new_context(nil) else {
            started.resume(throwing: CoAPError("coap_new_context failed"))
            return
        }
        coap_set_app_data(context, Unmanaged.passUnretained(self).toOpaque())
        // libcoap follows Block1 transfers (RFC 7959) and answers 2.31 Continue; each block comes
        // to `handle`, which keeps the bytes (`CoAPBodies`).
        coap_context_set_block_mode(context, UInt8(COAP_BLOCK_USE_LIBCOAP))
        if configuration.securePort != nil {
            guard coap_dtls_is_supported() != 0,
                  cmc_coap_set_psk(context, { identity, _, argument in
                      guard let identity, let argument else { return nil }
                      return Unmanaged<CoAPServer>.fromOpaque(argument).takeUnretainedValue().key(for: identity.pointee)
                  }, Unmanaged.passUnretained(self).toOpaque()) != 0
            else {
                coap_free_context(context)
                started.resume(throwing: CoAPError("this libcoap has no DTLS support"))
                return
            }
        }
        guard cmc_coap_listen(context, configuration.host, configuration.port, COAP_PROTO_UDP) != nil else {
            coap_free_context(context)
            started.resume(throwing: CoAPError("cannot listen on udp://\(configuration.host):\(configuration.port)"))
            return
        }
        if let securePort = configuration.securePort,
           cmc_coap_listen(context, configuration.host, securePort, COAP_PROTO_DTLS) == nil {
            coap_free_context(context)
            started.resume(throwing: CoAPError("cannot listen on dtls://\(configuration.host):\(securePort)"))
            return
        }
        let onRequest: coap_method_handler_t = { _, session, request, query, response in
            guard let session, let request, let response,
                  let server = coap_get_app_data(coap_session_get_context(session)) else { return }
            Unmanaged<CoAPServer>.fromOpaque(server).takeUnretainedValue()
                .handle(session: session, request: request, query: query, response: response)
        }
        // Every path is dynamic (`/d/{id}/...`), so the "unknown resource" takes all requests.
        let resource = coap_resource_unknown_init2(onRequest, 0)
        for method in [COAP_REQUEST_GET, COAP_REQUEST_POST, COAP_REQUEST_DELETE] {
            coap_register_request_handler(resource, method, onRequest)
        }
        coap_add_resource(context, resource)
        started.resume()

        let coapFD = coap_context_get_coap_fd(context)
        var stopDeadline: ContinuousClock.Instant?
        while true {
            if coapFD >= 0 {
                var fds = [pollfd(fd: coapFD, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
                _ = poll(&fds, 2, 1000)
                _ = coap_io_process(context, UInt32.max)  // COAP_IO_NO_WAIT
            } else {
                _ = coap_io_process(context, 10)
            }
            var count: UInt64 = 0
            _ = read(wakeFD, &count, 8)
            let (finished, stopping, inFlight) = state.withLockedValue { state in
                defer { state.finished = [] }
                return (state.finished, state.stopping, state.inFlight)
            }
            for item in finished { deliver(item) }
            if stopping {
                let deadline = stopDeadline ?? .now + .seconds(5)
                stopDeadline = deadline
                if inFlight == 0 || ContinuousClock.now >= deadline {
                    // Let the last separate responses leave before the sockets close.
                    _ = coap_io_process(context, 50)
                    break
                }
            }
        }
        let left = state.withLockedValue { state in
            state.closed = true
            defer { state.finished = [] }
            return state.finished
        }
        for item in left { deliver(item) }
        for (session, count) in held { for _ in 0..<count { coap_session_release(session) } }
        held = [:]
        coap_free_context(context)
    }

    private func key(for identity: coap_bin_const_t) -> UnsafePointer<coap_bin_const_t>? {
        let name = String(decoding: UnsafeBufferPointer(start: identity.s, count: identity.length), as: UTF8.self)
        guard let key = keys(name) else {
            CoAPLibrary.problems.record("wrong_credentials", detail: "DTLS identity \(name)")
            return nil
        }
        // libcoap copies the key it is given, so one buffer serves every handshake.
        pskStorage?.deallocate()
        let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: max(key.count, 1))
        storage.initialize(from: key, count: key.count)
        pskStorage = storage
        pskKey.pointee = coap_bin_const_t(length: key.count, s: storage)
        return UnsafePointer(pskKey)
    }

    private func handle(session: OpaquePointer, request: OpaquePointer, query: UnsafePointer<coap_string_t>?, response: OpaquePointer) {
        let token = coap_pdu_get_token(request)
        if coap_find_async(session, token) != nil {
            // libcoap hands over a request whose token is pending only once it was triggered, and
            // answers are sent directly, never by triggering; so this is another request reusing
            // the token (coap-client always sends 01, and a new client can get a finished one's
            // port). Never answer it with the other request's answer.
            fill(response, with: .error(503, "a request with this token is still in progress; retry"))
            return
        }
        guard var parsed = parse(session: session, request: request, query: query) else {
            fill(response, with: .error(405, "method not allowed"))
            return
        }
        var length = 0, offset = 0, total = 0
        var data: UnsafePointer<UInt8>?
        if coap_get_data_large(request, &length, &data, &offset, &total) != 0, offset > 0 || offset + length < total {
            let block = data.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
            switch bodies.add(.init(session: session, path: parsed.path, query: parsed.query), data: block, offset: offset, total: total) {
            case .waiting:
                fill(response, with: CoAPResponse(code: 204))
                return
            case .refused(let code, let reason):
                fill(response, with: .error(code, reason))
                return
            case .complete(let body):
                parsed.payload = body
            }
        }
        let accepted = state.withLockedValue { state -> Bool in
            guard !state.stopping else { return false }
            state.inFlight += 1
            return true
        }
        guard accepted else {
            fill(response, with: .error(503, "server is stopping"))
            return
        }
        guard let async = coap_register_async(session, request, 0) else {
            state.withLockedValue { $0.inFlight -= 1 }
            fill(response, with: .error(503, "too many requests in progress"))
            return
        }
        _ = async
        // Leaving the response empty makes libcoap send an empty ACK now; the answer follows.
        let pointer = SessionPointer(pointer: coap_session_reference(session))
        held[session, default: 0] += 1
        let tokenBytes = Array(UnsafeBufferPointer(start: token.s, count: token.length))
        let type = coap_pdu_get_type(request) == COAP_MESSAGE_CON ? COAP_MESSAGE_CON : COAP_MESSAGE_NON
        let handler = self.handler
        Task {
            let response = await handler(parsed)
            self.finish(Finished(session: pointer, token: tokenBytes, type: type, response: response))
        }
    }

    private func finish(_ item: Finished) {
        let queued = state.withLockedValue { state -> Bool in
            state.inFlight -= 1
            guard !state.closed else { return false }
            state.finished.append(item)
            return true
        }
        if queued { wake() }
    }

    private func deliver(_ item: Finished) {
        item.token.withUnsafeBufferPointer { bytes in
            let token = coap_bin_const_t(length: bytes.count, s: bytes.baseAddress)
            if let async = coap_find_async(item.session.pointer, token) {
                send(item.response, token: bytes, type: item.type, session: item.session.pointer)
                coap_free_async(item.session.pointer, async)
            }
        }
        let session = item.session.pointer
        held[session, default: 1] -= 1
        if held[session] == 0 { held[session] = nil }
        coap_session_release(session)
    }

    private func parse(session: OpaquePointer, request: OpaquePointer, query: UnsafePointer<coap_string_t>?) -> CoAPRequest? {
        let method: CoAPRequest.Method
        switch coap_pdu_get_code(request) {
        case COAP_REQUEST_CODE_GET: method = .get
        case COAP_REQUEST_CODE_POST: method = .post
        case COAP_REQUEST_CODE_PUT: method = .put
        case COAP_REQUEST_CODE_DELETE: method = .delete
        default: return nil
        }
        var path: [String] = []
        if let uri = coap_get_uri_path(request) {
            let text = String(decoding: UnsafeBufferPointer(start: uri.pointee.s, count: uri.pointee.length), as: UTF8.self)
            path = text.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            coap_delete_string(uri)
        }
        var parameters: [String: String] = [:]
        if let query {
            let text = String(decoding: UnsafeBufferPointer(start: query.pointee.s, count: query.pointee.length), as: UTF8.self)
            for pair in text.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                parameters[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
        }
        var length = 0
        var data: UnsafePointer<UInt8>?
        var payload: [UInt8] = []
        if coap_get_data(request, &length, &data) != 0, let data {
            payload = Array(UnsafeBufferPointer(start: data, count: length))
        }
        var identity: String?
        if coap_session_get_proto(session) == COAP_PROTO_DTLS, let psk = coap_session_get_psk_identity(session) {
            identity = String(decoding: UnsafeBufferPointer(start: psk.pointee.s, count: psk.pointee.length), as: UTF8.self)
        }
        return CoAPRequest(method: method, path: path, query: parameters, payload: payload, identity: identity)
    }

    /// The separate response (RFC 7252 §5.2.2), sent once the answer is ready.
    private func send(_ response: CoAPResponse, token: UnsafeBufferPointer<UInt8>, type: coap_pdu_type_t, session: OpaquePointer) {
        let size = token.count + response.payload.count + 16
        guard let pdu = coap_pdu_init(type, cmc_coap_code(Int32(response.code)), coap_mid_t(coap_new_message_id(session)), size) else { return }
        _ = coap_add_token(pdu, token.count, token.baseAddress)
        fill(pdu, with: response)
        _ = coap_send(session, pdu)
    }

    private func fill(_ pdu: OpaquePointer, with response: CoAPResponse) {
        coap_pdu_set_code(pdu, cmc_coap_code(Int32(response.code)))
        if let format = response.contentFormat { cmc_coap_content_format(pdu, format) }
        if !response.payload.isEmpty {
            response.payload.withUnsafeBufferPointer { _ = coap_add_data(pdu, $0.count, $0.baseAddress) }
        }
    }
}

public struct CoAPError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
