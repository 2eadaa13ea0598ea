import CMCCore
import Foundation
import Hummingbird
import Logging

/// Turns every error into the platform's JSON error shape, so clients never see an HTML or empty body.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as DecodingError {
            throw APIError(decoding: error)
        } catch let error as HTTPError {
            throw APIError(error.status, code: Self.code(for: error.status), message: error.body ?? Self.message(for: error.status, request: request))
        } catch let error as any HTTPResponseError {
            throw APIError(error.status, code: Self.code(for: error.status), message: Self.message(for: error.status, request: request))
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            throw APIError(.internalServerError, code: "internal", message: "internal error")
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .contentTooLarge: "body_too_large"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .unsupportedMediaType: "unsupported_media_type"
        default: status.code < 500 ? "bad_request" : "internal"
        }
    }

    static func message(for status: HTTPResponse.Status, request: Request) -> String {
        switch status {
        case .notFound: "no route for \(request.method) \(request.uri.path)"
        case .contentTooLarge: "request body is larger than the limit"
        default: status.reasonPhrase
        }
    }
}
