import CMCTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOConcurrencyHelpers
import NIOCore

/// A feed publisher on 127.0.0.1: the GBFS fixtures (with `{base}` replaced by its address),
/// documents a test puts in place, any HTTP status, and an endpoint that never answers in time.
final class FeedServer: Sendable {
    let documents = NIOLockedValueBox<[String: String]>([:])
    let requests = NIOLockedValueBox<[String]>([])
    /// Files a test puts in place, served under `files/`.
    let blobs = NIOLockedValueBox<[String: [UInt8]]>([:])

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// The Feeds tests' own fixtures, served under `files/fixtures/`.
    static let feedsFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FeedsTests/Fixtures")

    static func run<T: Sendable>(_ body: @Sendable (FeedServer, String) async throws -> T) async throws -> T {
        let server = FeedServer()
        let router = Router()
        router.get("gbfs/{file}") { request, context -> Response in
            let file = context.parameters.get("file") ?? ""
            // Whether the source's credential came along, for the same-origin rule.
            let key = request.headers[HTTPField.Name("X-Api-Key")!] == nil ? "" : " with key"
            server.requests.withLockedValue { $0.append("gbfs/\(file)\(key)") }
            let base = "http://\(request.head.authority ?? "127.0.0.1")/gbfs"
            let text = server.documents.withLockedValue { $0["gbfs/\(file)"] }
                ?? (try? String(contentsOf: fixtures.appendingPathComponent("gbfs/\(file)"), encoding: .utf8))
            guard let text else { return Response(status: .notFound) }
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: text.replacingOccurrences(of: "{base}", with: base))))
        }
        // The sample feeds (`fixtures/...` from the Feeds tests' own), and what a test puts in `blobs`.
        router.get("files/**") { _, context -> Response in
            let path = context.parameters.getCatchAll().joined(separator: "/")
            guard !path.split(separator: "/").contains("..") else { return Response(status: .badRequest) }
            var bytes = server.blobs.withLockedValue { $0[path] }
            if bytes == nil {
                let file = path.hasPrefix("fixtures/") ? feedsFixtures.appendingPathComponent(String(path.dropFirst(9))) : SampleFeeds.directory.appendingPathComponent(path)
                bytes = (try? Data(contentsOf: file)).map(Array.init)
            }
            guard let bytes else { return Response(status: .notFound) }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        // A redirect to `?to=`, as a feed that moved answers.
        router.get("redirect") { request, _ -> Response in
            Response(status: .found, headers: [.location: String(request.uri.queryParameters["to"] ?? "/")])
        }
        router.get("status/{code}") { _, context -> Response in
            Response(status: .init(code: Int(context.parameters.get("code") ?? "") ?? 500))
        }
        router.get("slow") { _, _ -> Response in
            try await Task.sleep(for: .seconds(4))
            return Response(status: .ok)
        }
        router.get("auth") { request, _ -> Response in
            let header = request.headers[HTTPField.Name("X-Api-Key")!]
            server.requests.withLockedValue { $0.append("auth \(header ?? "-")") }
            return Response(status: header == "Bearer sesame" ? .ok : .unauthorized,
                            body: .init(byteBuffer: ByteBuffer(string: #"[{"id":"a1","v":3}]"#)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live) { client in try await body(server, "http://127.0.0.1:\(client.port!)") }
    }
}
