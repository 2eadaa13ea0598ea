import CMCCore
import Foundation
import Hummingbird
import NIOCore

/// Publishes the demo city's feeds over HTTP as a city's systems would: the static ones as
/// generated, the live ones (parking status, traffic measurements, shared vehicles, bus delays and
/// positions) computed for the minute they are asked at.
public struct DemoFeedServer: Sendable {
    public let documents: DemoDocuments
    let now: @Sendable () -> Timestamp

    public init(documents: DemoDocuments = DemoDocuments(), now: @escaping @Sendable () -> Timestamp = { .now() }) {
        self.documents = documents
        self.now = now
    }

    public func router() throws -> Router<BasicRequestContext> {
        let router = Router()
        let files = try documents.staticFiles()
        let documents = self.documents
        let now = self.now
        router.get("gtfs/gtfs.zip") { _, _ in Self.response(files["gtfs.zip"]!, type: "application/zip") }
        router.get("datex2/parking-table.xml") { _, _ in Self.response(files["parking-table.xml"]!, type: "application/xml") }
        router.get("datex2/traffic-sites.xml") { _, _ in Self.response(files["traffic-sites.xml"]!, type: "application/xml") }
        router.get("datex2/parking-status.xml") { _, _ in Self.response(Data(documents.parkingStatus(at: now()).utf8), type: "application/xml") }
        router.get("datex2/traffic-measurements.xml") { _, _ in
            Self.response(Data(documents.trafficMeasurements(at: now()).utf8), type: "application/xml")
        }
        router.get("gtfs-rt/trip-updates.pb") { _, _ in Self.response(try documents.tripUpdates(at: now()), type: "application/x-protobuf") }
        router.get("gtfs-rt/vehicle-positions.pb") { _, _ in Self.response(try documents.vehiclePositions(at: now()), type: "application/x-protobuf") }
        router.get("gbfs/{system}/{file}") { request, context -> Response in
            let path = "\(context.parameters.get("system") ?? "")/\(context.parameters.get("file") ?? "")"
            let base = "http://\(request.head.authority ?? "127.0.0.1")/gbfs"
            guard let data = documents.gbfs(path, base: base, at: now()) else { return Response(status: .notFound) }
            return Self.response(data, type: "application/json")
        }
        return router
    }

    static func response(_ data: Data, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Serves until SIGINT or SIGTERM.
    public func run(host: String, port: Int) async throws {
        let app = Application(router: try router(), configuration: .init(address: .hostname(host, port: port), serverName: "cmc-demo-feeds"))
        try await app.runService()
    }
}
