import Auth
import CMCCore
import Foundation
import Hummingbird
import Prometheus

/// `/health`, `/metrics` and `/openapi.json`.
struct SystemRoutes: Sendable {
    let database: any Database

    static let routes: [Route] = [
        Route("GET", "/health", allow: Audience.everyone),
        Route("GET", "/metrics", allow: Audience.everyone),
        Route("GET", "/openapi.json", allow: Audience.everyone),
    ]

    struct Health: Encodable, Sendable {
        let status: String
        let database: String
    }

    func addRoutes(to router: Router<CMCRequestContext>) {
        router.get("health") { _, _ in
            JSONResponse(Health(status: "ok", database: database.dialect.rawValue))
        }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: PlatformMetrics.registry.emitToBuffer())))
        }
        let document = OpenAPIDocument.bytes
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: document)))
        }
    }
}

public enum OpenAPIDocument {
    /// The hand-kept OpenAPI 3.1 description of every route; a test checks it against `Platform.routes`.
    public static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url) else { return Array("{}".utf8) }
        return Array(data)
    }()
}
