import AsyncHTTPClient
import Auth
import CMCCore
import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The web map: its static files (`portal/`), Leaflet from where Debian installs it, and base-map
/// tiles relayed from `CMC_TILE_URL`. A tile that cannot be had is answered with a transparent
/// one, so the map shows its layers on a plain background and the browser reports no error.
public struct PortalController: HTTPController {
    public struct Configuration: Sendable {
        /// The portal's files; not served when nil.
        public var directory: URL?
        /// Debian's `libjs-leaflet` and `libjs-leaflet.markercluster` files.
        public var leafletDirectory: URL
        /// `https://tile.example.org/{z}/{x}/{y}.png`; none: plain background.
        public var tileURL: String?
        public var tileTimeout: Duration

        public init(directory: URL?, leafletDirectory: URL = URL(fileURLWithPath: "/usr/share/javascript/leaflet"),
                    tileURL: String? = nil, tileTimeout: Duration = .seconds(2)) {
            self.directory = directory
            self.leafletDirectory = leafletDirectory
            self.tileURL = tileURL
            self.tileTimeout = tileTimeout
        }
    }

    let configuration: Configuration
    /// Tiles fetched recently, so panning back costs nothing (bounded).
    private let cache = NIOLockedValueBox([String: [UInt8]]())
    /// After the tile server fails to answer, tiles are not asked of it for a minute: a browser
    /// holds only a few connections per site, and waiting tiles would hold up the API behind them.
    private let unreachableUntil = NIOLockedValueBox<ContinuousClock.Instant?>(nil)

    public init(configuration: Configuration) { self.configuration = configuration }

    public static let endpoints: [Endpoint<Self>] = [Endpoint(.get, "/tiles/{z}/{x}/{y}", allow: Audience.everyone, Self.relayTile)]

    /// Static files go after the error middleware and before authorization, so only requests no
    /// route answers reach them.
    public func fileMiddlewares() -> [FileMiddleware<CMCRequestContext, LocalFileSystem>] {
        var middlewares = [FileMiddleware<CMCRequestContext, LocalFileSystem>(
            configuration.leafletDirectory.path, urlBasePath: "/vendor/leaflet", cacheControl: CacheControl([(MediaType(type: .any), [CacheControl.Value.maxAge(3600)])]))]
        if let directory = configuration.directory {
            middlewares.append(FileMiddleware<CMCRequestContext, LocalFileSystem>(
                directory.path, cacheControl: CacheControl([(MediaType(type: .any), [CacheControl.Value.noCache])]), searchForIndexHtml: true))
        }
        return middlewares
    }

    /// A base-map tile, relayed or transparent.
    @Sendable func relayTile(_ request: Request, context: CMCRequestContext) async throws -> Response {
        let z = try context.parameters.require("z", as: Int.self)
        let x = try context.parameters.require("x", as: Int.self)
        let yText = try context.parameters.require("y")
        guard let y = Int(yText.split(separator: ".").first ?? ""), (0...22).contains(z), (0..<(1 << z)).contains(x), (0..<(1 << z)).contains(y) else {
            throw APIError.invalid("tile", "z must be 0-22 and x, y within 0..<2^z")
        }
        return Self.png(await tile(z: z, x: x, y: y))
    }

    func tile(z: Int, x: Int, y: Int) async -> [UInt8] {
        guard let template = configuration.tileURL, !template.isEmpty else { return Self.transparent }
        let url = template.replacingOccurrences(of: "{z}", with: "\(z)").replacingOccurrences(of: "{x}", with: "\(x)")
            .replacingOccurrences(of: "{y}", with: "\(y)").replacingOccurrences(of: "{s}", with: "a")
        if let cached = cache.withLockedValue({ $0[url] }) { return cached }
        if let until = unreachableUntil.withLockedValue({ $0 }), ContinuousClock.now < until { return Self.transparent }
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "User-Agent", value: "cmc-city-platform/1 (web map tile relay)")
            let response = try await HTTPClient.shared.execute(request, timeout: TimeAmount(configuration.tileTimeout))
            guard response.status == .ok else { return Self.transparent }
            let bytes = Array(buffer: try await response.body.collect(upTo: 1 << 20))
            cache.withLockedValue { cache in
                if cache.count > 2000 { cache.removeAll() }
                cache[url] = bytes
            }
            return bytes
        } catch {
            unreachableUntil.withLockedValue { $0 = ContinuousClock.now + .seconds(60) }
            return Self.transparent
        }
    }

    static func png(_ bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "max-age=3600"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A 1x1 transparent PNG.
    static let transparent: [UInt8] = Array(Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGNgAAIAAAUAAXpeqz8AAAAASUVORK5CYII=")!)
}
