import CMCCore
import Foundation
import Hummingbird
import NIOCore

extension Request {
    /// Decodes a JSON body with a size limit; errors name the field at fault.
    public func decodeJSON<Value: Decodable>(as type: Value.Type, limit: Int = 1 << 20) async throws -> Value {
        let buffer: ByteBuffer
        do {
            buffer = try await self.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "request body is larger than \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("request body is empty; JSON expected", code: "malformed_json") }
        // The platform's own parser reads every body first: it is the one that reads stored
        // documents back, so what it refuses (nesting over 256 levels, numbers beyond a double,
        // unpaired surrogates) is refused here with its reason rather than stored and lost.
        do {
            _ = try JSONValue(parsing: buffer.readableBytesView)
        } catch let error as JSONParseError {
            let limit = error.message == "nested too deeply" ? " (at most \(JSONValue.maximumDepth) levels)" : ""
            throw APIError.badRequest("body is not valid JSON: \(error.message)\(limit) at byte \(error.offset)", code: "malformed_json")
        }
        do {
            return try JSONDecoder().decode(Value.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw APIError(decoding: error)
        }
    }
}
