import Auth
import CMCCore
import CMCHTTP
import Events
import History
import Foundation
import Hummingbird

/// `/devices`: the registry, geo queries, and device data.
public struct DeviceController: HTTPController {
    let repository: any DeviceRepository
    let history: any HistoryClient
    /// Where written readings go, and the device cache this controller keeps current.
    let ingest: ReadingIngest
    /// Ids only admins and services may register (the feeds' prefixes).
    let reservations: (any DeviceIDReservations)?
    /// Accounts kept by connectors, by connector name (`mqtt`).
    let accounts: [String: any DeviceAccounts]
    let commands: CommandRepository?
    /// Command carriers by connector name (`mqtt`).
    let channels: [String: any CommandChannel]
    let events: EventBus?
    static let maximumRadius = 100_000.0

    public init(repository: any DeviceRepository, history: any HistoryClient, ingest: ReadingIngest, accounts: [String: any DeviceAccounts] = [:],
                commands: CommandRepository? = nil, channels: [String: any CommandChannel] = [:], events: EventBus? = nil,
                reservations: (any DeviceIDReservations)? = nil) {
        self.events = events
        self.reservations = reservations
        self.repository = repository
        self.history = history
        self.ingest = ingest
        self.accounts = accounts
        self.commands = commands
        self.channels = channels
    }

    public static let endpoints: [Endpoint<Self>] = [
        Endpoint(.post, "/devices", allow: Audience.signedIn, Self.register),
        // Public devices are readable without a token (the web map); the rest by who may read them.
        Endpoint(.get, "/devices", allow: Audience.everyone, Self.list),
        Endpoint(.get, "/devices/{id}", allow: Audience.everyone, Self.get),
        Endpoint(.patch, "/devices/{id}", allow: Audience.signedIn, Self.update),
        Endpoint(.delete, "/devices/{id}", allow: Audience.signedIn, Self.delete),
        Endpoint(.post, "/devices/{id}/data", allow: Audience.signedIn, Self.write),
        Endpoint(.get, "/devices/{id}/data/latest", allow: Audience.everyone, Self.latest),
        Endpoint(.post, "/devices/{id}/credentials", allow: Audience.signedIn, Self.renewCredentials),
        Endpoint(.post, "/devices/{id}/commands", allow: Audience.signedIn, Self.sendCommand),
        Endpoint(.get, "/devices/{id}/commands/{commandId}", allow: Audience.signedIn, Self.getCommand),
    ]

    static let maximumCommandBytes = 64 * 1024

    struct CommandRequest: Decodable {
        let name: String
        let params: [String: JSONValue]
        let timeoutMs: Int

        enum CodingKeys: String, CodingKey, CaseIterable { case name, params, timeoutMs }

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try DeviceField.word(try c.decode(String.self, forKey: .name), field: "name")
            params = try c.decodeIfPresent([String: JSONValue].self, forKey: .params) ?? [:]
            timeoutMs = try c.decodeIfPresent(Int.self, forKey: .timeoutMs) ?? 30_000
            guard (100...600_000).contains(timeoutMs) else { throw APIError.invalid("timeoutMs", "must be from 100 to 600000") }
        }
    }

    /// The device's owner (or an application acting for them), an operator, an admin or a service.
    func commandable(_ context: CMCRequestContext) async throws -> Device {
        let device = try await readable(context)
        let caller = try context.requirePrincipal()
        guard DeviceAccess.canWrite(device, by: caller) || caller.role == .operator else {
            throw APIError.forbidden("only the device's owner, an operator or an admin may command device \(device.id)")
        }
        return device
    }

    /// Publishes the command and answers at once with its id; the device's answer comes later, or,
    /// with `?wait=true`, in this answer when it comes before the command's deadline.
    @Sendable func sendCommand(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Command> {
        let device = try await commandable(context)
        let wait = try QueryParameters(request, allowed: ["wait"]).bool("wait") == true
        // A command waits in the broker while its device is offline: small, so waiting ones stay cheap.
        let body = try await request.decodeJSON(as: CommandRequest.self, limit: Self.maximumCommandBytes)
        guard let commands, let channel = channels[device.connector] else {
            throw APIError(.conflict, code: "no_command_channel", message: "devices on connector \(device.connector) cannot receive commands")
        }
        let now = Timestamp.now()
        var command = Command(
            id: UUID().uuidString.lowercased(), device: device.id, name: body.name, params: body.params, status: .pending, result: nil,
            requestedBy: try context.requirePrincipal().subject, createdAt: now, updatedAt: now,
            expiresAt: Timestamp(microseconds: now.microseconds + Int64(body.timeoutMs) * 1000)
        )
        let sent = command
        // Watched from before it is sent: the device may answer before this request reads again.
        let answered: Command? = try await commands.watching(command.id) {
            try await commands.insert(sent)
            let delivered: Command?
            do {
                try await channel.send(sent)
                delivered = try await commands.update(id: sent.id, to: .delivered)
            } catch {
                try await commands.update(id: sent.id, to: .failed, result: .string("not sent: \(error)"))
                throw Self.connectorUnavailable(device.connector, error)
            }
            guard wait else { return nil }
            return try await commands.wait(id: sent.id, until: sent.expiresAt, current: delivered)
        }
        if let answered, answered.status.isFinal { return JSONResponse(answered, status: .ok) }
        command = try await commands.find(id: command.id)?.settled() ?? command
        return JSONResponse(command, status: .accepted)
    }

    /// `?wait=true` answers when the device has answered or the command's deadline has passed.
    @Sendable func getCommand(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Command> {
        let device = try await commandable(context)
        let query = try QueryParameters(request, allowed: ["wait"])
        let id = try context.parameters.require("commandId")
        guard let commands, let command = try await commands.find(id: id), command.device == device.id else {
            throw APIError.notFound("no command \(id) for device \(device.id)")
        }
        if try query.bool("wait") == true, let waited = try await commands.wait(id: id, until: command.expiresAt) {
            return JSONResponse(waited)
        }
        return JSONResponse(command.settled())
    }

    struct Page: Encodable, Sendable, JSONWritable {
        let devices: [Device]
        let nextCursor: String?
        /// Each device's latest reading, with `latest=true` (a map draws every device with its figures).
        var latest: [String: Reading]?

        enum CodingKeys: String, CodingKey { case devices, nextCursor, latest }

        func write(to writer: inout JSONWriter) {
            writer.object { w in
                w.key("devices")
                w.array(devices) { w, device in device.write(to: &w) }
                if let latest {
                    w.key("latest")
                    w.object { l in
                        for device in devices {
                            guard let reading = latest[device.id] else { continue }
                            l.key(named: device.id)
                            reading.write(to: &l)
                        }
                    }
                }
                w.member("nextCursor", nextCursor)
            }
        }
    }

    struct WriteResult: Encodable, Sendable {
        let received: Int
        let stored: Int
    }

    @Sendable func register(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Device> {
        let caller = try context.requirePrincipal()
        let body = try await request.decodeJSON(as: DeviceRegistration.self)
        if !caller.isPrivileged, let source = reservations?.reservation(of: body.id) {
            throw APIError(.conflict, code: "reserved_id", message: "id \(body.id) is under the prefix of data source \(source), whose devices only it registers")
        }
        let now = Timestamp.now()
        var device = Device(
            id: body.id, category: body.category, connector: body.connector, location: body.location, nickname: body.nickname,
            public: body.isPublic, metadata: try DeviceField.metadata(body.metadata),
            ownerID: caller.actingUserID ?? "service:\(caller.subject)", createdAt: now, updatedAt: now
        )
        // Readings left under this id (by a deleted device whose cleanup was cut short, or that
        // arrived as it was deleted) are not the new owner's to read.
        if try await repository.find(id: device.id) == nil { try await history.forget(device: device.id) }
        try await repository.insert(device)
        // Drops a "no such device" the connectors may remember, before they hear of the event.
        ingest.lookup.forget(device.id)
        if let accounts = accounts[device.connector] {
            do {
                device.credentials = try await accounts.issue(deviceID: device.id)
            } catch {
                // No device without its account: undo the registration.
                _ = try? await repository.delete(id: device.id)
                ingest.lookup.forget(device.id)
                throw Self.connectorUnavailable(device.connector, error)
            }
        }
        events?.publish([Event(.deviceCreated, device: device)])
        return JSONResponse(device, status: .created)
    }

    static func connectorUnavailable(_ connector: String, _ error: any Error) -> APIError {
        APIError(.serviceUnavailable, code: "connector_unavailable", message: "the \(connector) connector could not manage the device's account: \(error)")
    }

    /// A new password for the device's connector account; the old one stops working.
    @Sendable func renewCredentials(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Device> {
        var device = try await writable(context)
        guard let accounts = accounts[device.connector] else {
            throw APIError(.conflict, code: "no_credentials", message: "devices on connector \(device.connector) have no platform-issued credentials")
        }
        do {
            device.credentials = try await accounts.issue(deviceID: device.id)
        } catch {
            throw Self.connectorUnavailable(device.connector, error)
        }
        return JSONResponse(device)
    }

    @Sendable func list(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Page> {
        let caller = context.principal
        let query = try QueryParameters(request, allowed: ["category", "connector", "near", "radius", "bbox", "limit", "cursor", "latest"])
        var filter = DeviceFilter(
            category: try query.string("category").map { try DeviceField.word($0, field: "category") },
            connector: try query.string("connector").map { try DeviceField.word($0, field: "connector") },
            visibleTo: DeviceAccess.visibility(caller),
            limit: try query.int("limit", range: 1...1000) ?? 100
        )
        if let near = query.string("near") {
            let parts = near.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count == 2, let lat = Double(parts[0]), let lon = Double(parts[1]) else {
                throw APIError.invalid("near", "must be 'lat,lon', e.g. 39.2238,9.1217")
            }
            let point: GeoPoint
            do { point = try GeoPoint(lat: lat, lon: lon) } catch { throw APIError.invalid("near", "lat must be in -90...90 and lon in -180...180") }
            guard let radius = try query.double("radius") else { throw APIError.invalid("radius", "is required with near (metres)") }
            guard radius > 0, radius <= Self.maximumRadius else { throw APIError.invalid("radius", "must be more than 0 and at most \(Int(Self.maximumRadius)) metres") }
            filter.near = (point, radius)
        } else if query.string("radius") != nil {
            throw APIError.invalid("radius", "needs near=lat,lon")
        }
        if let box = query.string("bbox") {
            guard filter.near == nil else { throw APIError.invalid("bbox", "cannot be combined with near") }
            filter.box = try GeoBox(parsing: box, field: "bbox")
        }
        if let cursor = query.string("cursor") {
            let key = try Cursor.decode(cursor, field: "cursor")
            if filter.near != nil {
                guard let bar = key.firstIndex(of: "|"), let distance = Double(key[..<bar]) else { throw APIError.invalid("cursor", "is not a cursor of this query") }
                filter.after = .distance(distance, String(key[key.index(after: bar)...]))
            } else {
                filter.after = .id(key)
            }
        }
        var devices = try await repository.list(filter)
        let listedAll = devices.count < filter.limit
        var latest: [String: Reading]?
        if try query.bool("latest") == true {
            latest = try await history.latest(devices: devices.map(\.id))
        }
        // A thousand devices with their metadata, and with their latest readings, could make a
        // page of many megabytes: it ends at about 8 MiB, and the cursor has the rest.
        // (The page writes the latest readings of its own devices only.)
        let trimmed = AnswerSize.trim(&devices) { device in
            512 + JSONValue.approximateSize(of: device.metadata) + (latest?[device.id].map { JSONValue.approximateSize(of: $0.values) + 160 } ?? 0)
        }
        var next: String?
        if trimmed || !listedAll, let last = devices.last {
            next = Cursor.encode(last.distance.map { "\($0)|\(last.id)" } ?? last.id)
        }
        var page = Page(devices: devices, nextCursor: next)
        page.latest = latest
        return JSONResponse(page)
    }

    /// The device, if the caller may read it; otherwise 404 whether or not it exists.
    func readable(_ context: CMCRequestContext) async throws -> Device {
        let caller = context.principal
        let id = try context.parameters.require("id")
        guard let device = try await repository.find(id: id), DeviceAccess.canRead(device, by: caller) else {
            throw APIError.notFound("no device \(id)")
        }
        return device
    }

    func writable(_ context: CMCRequestContext) async throws -> Device {
        let device = try await readable(context)
        guard DeviceAccess.canWrite(device, by: try context.requirePrincipal()) else {
            throw APIError.forbidden("only the device's owner or an admin may change device \(device.id)")
        }
        return device
    }

    @Sendable func get(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Device> {
        JSONResponse(try await readable(context))
    }

    @Sendable func update(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Device> {
        var device = try await writable(context)
        let before = device.connector
        let patch = try await request.decodeJSON(as: DevicePatch.self)
        try patch.apply(to: &device)
        device.updatedAt = .now()
        if before != device.connector {
            do {
                if let accounts = accounts[device.connector] { device.credentials = try await accounts.issue(deviceID: device.id) }
                if let accounts = accounts[before] { try await accounts.remove(deviceID: device.id) }
            } catch {
                throw Self.connectorUnavailable(device.connector, error)
            }
        }
        try await repository.update(device)
        ingest.lookup.forget(device.id)
        events?.publish([Event(.deviceChanged, device: device)])
        return JSONResponse(device)
    }

    @Sendable func delete(_ request: Request, context: CMCRequestContext) async throws -> HTTPResponse.Status {
        let device = try await writable(context)
        if let accounts = accounts[device.connector] {
            do { try await accounts.remove(deviceID: device.id) } catch { throw Self.connectorUnavailable(device.connector, error) }
        }
        let deleted = try await repository.delete(id: device.id)
        ingest.lookup.forget(device.id)
        if deleted { events?.publish([Event(.deviceDeleted, device: device)]) }
        try await history.forget(device: device.id)
        return .noContent
    }

    @Sendable func write(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<WriteResult> {
        let device = try await writable(context)
        let batch = try await request.decodeJSON(as: ReadingBatch.self)
        let written = try await ingest.write(batch.readings, to: device)
        return JSONResponse(WriteResult(received: written.received, stored: written.stored), status: .created)
    }

    @Sendable func latest(_ request: Request, context: CMCRequestContext) async throws -> JSONResponse<Reading> {
        let device = try await readable(context)
        guard let reading = try await history.latest(device: device.id) else { throw APIError.notFound("device \(device.id) has no readings yet") }
        return JSONResponse(reading)
    }
}
