import CMCTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Platform
import Portal
import Testing

/// The web map's files, Leaflet from Debian, and the tile relay. (The map itself is tested in
/// Chromium by `Tests/PortalTests/portal_test.py`.)
@Suite("Web map serving")
struct PortalServingTests {
    static let portal = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("portal")

    @Test("every answer carries the browser security headers; TRACE and control characters in paths are refused", arguments: [TestBackend.sqlite])
    func securityHeaders(backend: TestBackend) async throws {
        var configuration = TestPlatform.configuration()
        configuration.portal = PortalController.Configuration(directory: Self.portal)
        try await TestPlatform.run(backend, configuration: configuration) { t in
            for path in ["/", "/js/app.js", "/health", "/devices/missing"] {
                let reply = try await t.client.send(.get, path)
                #expect(reply.headers[.xContentTypeOptions] == "nosniff", "\(path)")
                #expect(reply.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(path)")
                #expect(reply.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true, "\(path)")
                #expect(reply.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true, "\(path)")
            }
            let trace = try await t.client.send(HTTPRequest.Method("TRACE")!, "/")
            #expect(trace.status == .methodNotAllowed)
            #expect(trace.errorCode == "method_not_allowed")
            #expect(trace.headers[.allow]?.contains("GET") == true)
            for path in ["/index.html%00.js", "/js/app.js%00", "/index.html%0a.js"] {
                let reply = try await t.client.send(.get, path)
                #expect(reply.status == .badRequest, "\(path)")
                #expect(reply.headers[.contentType]?.contains("javascript") != true, "\(path)")
            }
            #expect(try await t.client.send(.get, "/index.html").status == .ok)
        }
    }

    @Test("the portal at /, Leaflet under /vendor/leaflet, tiles relayed or transparent", arguments: TestBackend.all)
    func serving(backend: TestBackend) async throws {
        // A tile server on 127.0.0.1 that answers one tile.
        let router = Router()
        router.get("{z}/{x}/{y}") { _, context -> Response in
            guard context.parameters.get("y") == "3.png" else { return Response(status: .notFound) }
            return Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(string: "tile-2-1-3")))
        }
        let tiles = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await tiles.test(.live) { tileServer in
            var configuration = TestPlatform.configuration()
            configuration.portal = PortalController.Configuration(directory: Self.portal, tileURL: "http://127.0.0.1:\(tileServer.port!)/{z}/{x}/{y}.png")
            try await TestPlatform.run(backend, configuration: configuration) { t in
                let index = try await t.client.send(.get, "/")
                #expect(index.status == .ok && index.text.contains("<main id=\"map\""))
                let script = try await t.client.send(.get, "/js/app.js")
                #expect(script.status == .ok && script.headers[.contentType]?.contains("javascript") == true)
                let leaflet = try await t.client.send(.get, "/vendor/leaflet/leaflet.js")
                #expect(leaflet.status == .ok && leaflet.text.contains("Leaflet"), "Debian's libjs-leaflet is missing")
                let clusters = try await t.client.send(.get, "/vendor/leaflet/leaflet.markercluster.js")
                #expect(clusters.status == .ok, "Debian's libjs-leaflet.markercluster is missing")
                // API errors stay JSON; unknown paths are still 404.
                #expect(try await t.client.send(.get, "/devices/missing").errorCode == "not_found")
                #expect(try await t.client.send(.get, "/nothing-here.js").status == .notFound)

                let relayed = try await t.client.send(.get, "/tiles/2/1/3.png")
                #expect(relayed.status == .ok && relayed.text == "tile-2-1-3")
                // The tile server has no such tile: a transparent one, not an error in the browser.
                let missing = try await t.client.send(.get, "/tiles/2/1/2.png")
                #expect(missing.status == .ok && missing.headers[.contentType] == "image/png" && missing.text.contains("PNG"))
                let outside = try await t.client.send(.get, "/tiles/2/9/3.png")
                #expect(outside.status == .badRequest && outside.errorMessage?.contains("tile") == true)
            }
        }

        var unreachable = TestPlatform.configuration()
        unreachable.portal = PortalController.Configuration(directory: nil, tileURL: "http://127.0.0.1:9/{z}/{x}/{y}.png", tileTimeout: .seconds(1))
        try await TestPlatform.run(backend, configuration: unreachable) { t in
            let first = try await t.client.send(.get, "/tiles/3/4/3.png")
            #expect(first.status == .ok && first.text.contains("PNG"))
            // Once the server is known to be down, tiles are answered at once.
            let started = ContinuousClock.now
            for x in 0..<8 { _ = try await t.client.send(.get, "/tiles/3/\(x)/2.png") }
            #expect(ContinuousClock.now - started < .milliseconds(900))
            #expect(try await t.client.send(.get, "/").status == .notFound)
        }
    }
}
