/// A request as the server's handler sees it: copied out of libcoap's buffers, so it can cross
/// threads and outlive the I/O loop's turn.
public struct CoAPRequest: Sendable {
    public enum Method: String, Sendable {
        case get = "GET", post = "POST", put = "PUT", delete = "DELETE"
    }

    public let method: Method
    /// Uri-Path segments: `/d/abc/data` is `["d", "abc", "data"]`.
    public let path: [String]
    public let query: [String: String]
    public var payload: [UInt8]
    /// The PSK identity the DTLS session was opened with; nil over plain UDP.
    public let identity: String?

    public init(method: Method, path: [String], query: [String: String] = [:], payload: [UInt8] = [], identity: String? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.payload = payload
        self.identity = identity
    }
}

/// A response code as written in the RFC (`2.04` is 204) and an optional payload.
public struct CoAPResponse: Sendable, Equatable {
    public var code: Int
    public var payload: [UInt8]
    /// Content-Format option (50 = application/json, 0 = text/plain).
    public var contentFormat: UInt16?

    public init(code: Int, payload: [UInt8] = [], contentFormat: UInt16? = nil) {
        self.code = code
        self.payload = payload
        self.contentFormat = contentFormat
    }

    public static let changed = CoAPResponse(code: 204)
    public static func content(json: [UInt8]) -> CoAPResponse { CoAPResponse(code: 205, payload: json, contentFormat: 50) }

    /// An error with its diagnostic payload (RFC 7252 §5.5.2: human-readable text).
    public static func error(_ code: Int, _ diagnostic: String) -> CoAPResponse {
        CoAPResponse(code: code, payload: Array(diagnostic.utf8), contentFormat: 0)
    }
}
