import Auth
import CMCCore
import CMCHTTP
import Feeds
import Foundation
import Hummingbird

/// `/persistence/sources`: the polled data sources, their status, and operators' changes to them;
/// `/devices/{id}/departures`: the next buses from a stop, from the GTFS timetables read.
public struct PersistenceController: HTTPController {
    let scheduler: PersistenceScheduler

    public init(scheduler: PersistenceScheduler) { self.scheduler = scheduler }

    static let operators: [Audience] = [.microservice, .admin, .operator]

    public static let endpoints: [Endpoint<Self>] = [
        Endpoint(.get, "/persistence/sources", allow: operators, Self.list),
        Endpoint(.post, "/persistence/sources", allow: operators, Self.create),
        Endpoint(.get, "/persistence/sources/{id}", allow: operators, Self.get),
        Endpoint(.put, "/persistence/sources/{id}", allow: operators, Self.replace),
        Endpoint(.delete, "/persistence/sources/{id}", allow: operators, Self.delete),
        Endpoint(.post, "/persistence/sources/{id}/run", allow: operators, Self.run),
        Endpoint(.post, "/persistence/sources/{id}/pause", allow: operators) { controller in { _, context in try await controller.setPaused(true, context) } },
        Endpoint(.post, "/persistence/sources/{id}/resume", allow: operators) { controller in { _, context in try await controller.setPaused(false, context) } },
        Endpoint(.get, "/devices/{id}/departures", allow: Audience.everyone, Self.departures),
    ]

    struct Sources: Encodable, Sendable {
        let sources: [SourceRecord]
    }

    @Sendable func list(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Sources> {
        _ = try QueryParameters(request, allowed: [])
        return JSONResponse(Sources(sources: scheduler.records()))
    }

    @Sendable func create(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<SourceRecord> {
        let source = try await request.decodeJSON(as: Source.self).validated()
        guard scheduler.record(id: source.id) == nil else { throw APIError.conflict("a source with id \(source.id) already exists") }
        try Self.refuseFiles(source)
        try await scheduler.save(source, origin: .api)
        return JSONResponse(try found(source.id), status: .created)
    }

    @Sendable func get(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<SourceRecord> {
        JSONResponse(try found(try context.parameters.require("id")))
    }

    @Sendable func replace(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<SourceRecord> {
        let id = try context.parameters.require("id")
        let existing = try found(id)
        let source = try await request.decodeJSON(as: Source.self).validated()
        guard source.id == id else { throw APIError.invalid("id", "must be \(id), the source in the path") }
        if !scheduler.isDeclared(source) { try Self.refuseFiles(source) }
        try await scheduler.save(source, origin: existing.origin)
        return JSONResponse(try found(id))
    }

    @Sendable func delete(_ request: Request, context: CMCRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard try await scheduler.remove(id: id) else { throw APIError.notFound("no source \(id)") }
        return Response(status: .noContent)
    }

    @Sendable func run(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<SourceRecord> {
        let id = try context.parameters.require("id")
        do {
            return JSONResponse(try await scheduler.runNow(id: id))
        } catch .unknown {
            throw APIError.notFound("no source \(id)")
        } catch .running {
            throw APIError.conflict("source \(id) is running now; its status shows the outcome when it ends")
        }
    }

    func setPaused(_ paused: Bool, _ context: CMCRequestContext) async throws -> JSONResponse<SourceRecord> {
        let id = try context.parameters.require("id")
        var record = try found(id)
        record.source.paused = paused
        try await scheduler.save(record.source, origin: record.origin)
        return JSONResponse(try found(id))
    }

    /// Files are read only for sources declared in `connectors/`, as their file says.
    static func refuseFiles(_ source: Source) throws {
        guard !source.readsFiles else {
            throw APIError.invalid(source.url.lowercased().hasPrefix("file:") ? "url" : "sitesUrl",
                                   "must be an http or https URL: file: URLs are read only for sources declared in connectors/")
        }
    }

    private func found(_ id: String) throws -> SourceRecord {
        guard let record = scheduler.record(id: id) else { throw APIError.notFound("no source \(id)") }
        return record
    }

    struct Departures: Encodable, Sendable {
        struct Item: Encodable, Sendable {
            let line: String
            let route: String
            let headsign: String?
            let trip: String
            let time: Timestamp
        }

        let device: String
        let stop: String
        let departures: [Item]
    }

    @Sendable func departures(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Departures> {
        let id = try context.parameters.require("id")
        let query = try QueryParameters(request, allowed: ["from", "limit", "line"])
        let from = try query.timestamp("from") ?? .now()
        let limit = try query.int("limit", range: 1...500) ?? 10
        guard let (stop, found) = scheduler.timetables.departures(device: id, from: from, limit: limit, line: query.string("line")) else {
            throw APIError.notFound("no timetable for device \(id): it is not a stop of a GTFS source")
        }
        let items = found.map {
            Departures.Item(line: $0.line, route: $0.route, headsign: $0.headsign, trip: $0.trip, time: $0.time)
        }
        return JSONResponse(Departures(device: id, stop: stop, departures: items))
    }
}
