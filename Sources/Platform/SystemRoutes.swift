import Auth
import CMCCore
import CMCHTTP
import CMCStorage
import Foundation
import Hummingbird
import Prometheus

/// `/health`, `/metrics` and `/openapi.json`.
struct SystemRoutes: HTTPController {
    let database: any Database
    let readiness: Readiness

    static let endpoints: [Endpoint<Self>] = [
        Endpoint(.get, "/health", allow: Audience.everyone, Self.health),
        Endpoint(.get, "/metrics", allow: Audience.everyone) { _ in { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: PlatformMetrics.registry.emitToBuffer())))
        } },
        Endpoint(.get, "/openapi.json", allow: Audience.everyone) { _ in { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        } },
    ]

    struct Health: Encodable, Sendable {
        let status: String
        let database: String
    }

    /// Ready only when the database and the broker (where one is used) answer, so a load balancer
    /// sends nothing to a process that could not serve it.
    @Sendable func health(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Health> {
        let problems = readiness.problems
        guard problems.isEmpty else {
            throw APIError(.serviceUnavailable, code: "not_ready", message: "not ready: \(problems.joined(separator: " and ")) did not answer in the last seconds")
        }
        return JSONResponse(Health(status: "ok", database: database.dialect.rawValue))
    }
}

public enum OpenAPIDocument {
    /// The hand-kept OpenAPI 3.1 description of every route; a test checks it against `Platform.routes`.
    public static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url) else { return Array("{}".utf8) }
        return Array(data)
    }()
}
