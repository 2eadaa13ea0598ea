import CMCCore
import Foundation
import Hummingbird

/// Encodes any value as a JSON response with a chosen status.
public struct JSONResponse<Value: Encodable & Sendable>: ResponseGenerator {
    public let status: HTTPResponse.Status
    public let value: Value

    public init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        if let writable = value as? any JSONWritable { return Response.json(writable, status: status) }
        return Response.json(bytes: try JSONCoding.encoder.encode(value), status: status)
    }
}

extension Response {
    /// A JSON answer written by the value itself, for values that are not `Encodable`.
    public static func json(_ value: some JSONWritable, status: HTTPResponse.Status = .ok) -> Response {
        var writer = JSONWriter()
        value.write(to: &writer)
        return json(writer.buffer, status: status)
    }

    static func json(bytes: some Sequence<UInt8>, status: HTTPResponse.Status) -> Response {
        json(ByteBuffer(bytes: bytes), status: status)
    }

    static func json(_ body: ByteBuffer, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }
}
