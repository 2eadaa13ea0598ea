import CMCCore
import HTTPTypes
import Hummingbird

/// What every answer says about itself to browsers, and the requests no route should see.
///
/// The web map and the API share an origin, so one policy covers both: scripts and styles from
/// the platform only (styles also inline, as Leaflet sets them), no framing, no content sniffing.
/// TRACE and other methods the platform does not serve are refused with 405, and a path that
/// encodes a control character (`/index.html%00.js`) with 400, before any route or file is looked up.
public struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var served: [HTTPRequest.Method] { [.get, .head, .post, .put, .patch, .delete, .options] }
    static var contentSecurityPolicy: String {
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; "
            + "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    }

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            try Self.check(request)
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.referrerPolicy] = "same-origin"
        return response
    }

    static func check(_ request: Request) throws {
        guard served.contains(request.method) else {
            throw APIError(.methodNotAllowed, code: "method_not_allowed", message: "method \(request.method) is not served",
                           headers: [.allow: served.map(\.rawValue).joined(separator: ", ")])
        }
        if hasControlCharacter(request.uri.path) {
            throw APIError.badRequest("path must not contain control characters", code: "bad_path")
        }
    }

    /// Raw or percent-encoded (`%00`-`%1F`, `%7F`).
    static func hasControlCharacter(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x20 || byte == 0x7F { return true }
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                let decoded = high << 4 | low
                if decoded < 0x20 || decoded == 0x7F { return true }
                index += 3
                continue
            }
            index += 1
        }
        return false
    }
}

extension HTTPField.Name {
    static var xFrameOptions: Self { .init("X-Frame-Options")! }
    static var referrerPolicy: Self { .init("Referrer-Policy")! }
}
