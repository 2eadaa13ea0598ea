import Foundation
import HTTPTypes

/// An error a client caused or can act on, answered as `{"error": {"code", "message"}}` (by
/// `CMCHTTP`); thrown by models and storage as well as by controllers.
public struct APIError: Error, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

}

extension APIError {
    public static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_field", message: "\(field): \(message)")
    }
    public static func badRequest(_ message: String, code: String = "bad_request") -> APIError {
        APIError(.badRequest, code: code, message: message)
    }
    public static func notFound(_ message: String) -> APIError {
        APIError(.notFound, code: "not_found", message: message)
    }
    public static func unauthorized(_ message: String) -> APIError {
        APIError(.unauthorized, code: "unauthorized", message: message, headers: [.wwwAuthenticate: "Bearer"])
    }
    public static func forbidden(_ message: String) -> APIError {
        APIError(.forbidden, code: "forbidden", message: message)
    }
    /// 422: the request is well formed, but its answer cannot be given (an aggregate out of range).
    public static func unprocessable(_ message: String, code: String) -> APIError {
        APIError(.unprocessableContent, code: code, message: message)
    }

    public static func conflict(_ message: String) -> APIError {
        APIError(.conflict, code: "conflict", message: message)
    }
}

extension APIError {
    /// Names the field that failed, as a client would write it (`location.lat`, `values[2]`).
    public init(decoding error: DecodingError) {
        func path(_ codingPath: [any CodingKey]) -> String {
            var out = ""
            for key in codingPath {
                if let index = key.intValue { out += "[\(index)]" } else { out += out.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return out.isEmpty ? "body" : out
        }
        switch error {
        case .typeMismatch(let type, let context):
            self = .invalid(path(context.codingPath), "must be \(Self.describe(type))")
        case .valueNotFound(let type, let context):
            self = .invalid(path(context.codingPath), "must be \(Self.describe(type)), not null")
        case .keyNotFound(let key, let context):
            self = .invalid(path(context.codingPath + [key]), "is required")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                self = .badRequest("body is not valid JSON", code: "malformed_json")
            } else {
                self = .invalid(path(context.codingPath), context.debugDescription)
            }
        @unknown default:
            self = .badRequest("body could not be decoded")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Double.Type, is Float.Type: return "a number"
        case is Int.Type, is Int64.Type, is Int32.Type: return "an integer"
        case is Bool.Type: return "a boolean"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a valid \(name)"
        }
    }
}
