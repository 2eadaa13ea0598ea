import CMCCore
import CoAP
import Devices
import Foundation
import History
import Logging
import Metrics
import ServiceLifecycle

/// The device side of CoAP: `POST /d/{id}/data?k=<key>` stores readings exactly as a REST write
/// would, `GET /d/{id}/data/latest?k=<key>` reads the last one. Over DTLS the PSK identity is the
/// device id and its key the PSK, so `k` is not needed.
///
/// A 2.04 is sent only once the readings are durable; concurrent requests share transactions.
public final class CoAPIngest: Service, Sendable {
    public typealias Configuration = CoAPServer.Configuration

    let server: CoAPServer
    let batcher: ReadingBatcher
    let keys: CoAPKeys
    let logger: Logger

    public init(configuration: Configuration, keys: CoAPKeys, ingest: ReadingIngest, history: any HistoryClient, logger: Logger) throws {
        // One request per reading is how CoAP devices write; concurrent ones share transactions.
        let batcher = ReadingBatcher(history: history)
        let resources = DeviceResources(keys: keys, ingest: ingest.batched(by: batcher), history: history,
                                        problems: ProblemLog(connector: "coap", logger: logger))
        server = try CoAPServer(configuration: configuration, keys: { id in keys.key(for: id).map { Array($0.utf8) } },
                                handler: { request in await resources.answer(request) })
        self.batcher = batcher
        self.keys = keys
        self.logger = logger
    }

    public func run() async throws {
        try await keys.load()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.batcher.run() }
            try await cancelWhenGracefulShutdown {
                try await self.server.run()
            }
            // The server has answered every request it took; now the batcher may stop.
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}

/// The resources a device reaches, answered from the request alone.
struct DeviceResources: Sendable {
    let keys: CoAPKeys
    let ingest: ReadingIngest
    /// For the latest reading, which a device may read back.
    let history: any HistoryClient
    let problems: ProblemLog

    func answer(_ request: CoAPRequest) async -> CoAPResponse {
        Counter(label: "cmc_coap_requests_total", dimensions: [("method", request.method.rawValue)]).increment()
        let path = request.path
        guard path.count == 3 || path.count == 4, path[0] == "d", path[2] == "data", path.count == 3 || path[3] == "latest" else {
            return .error(404, "no resource /\(path.joined(separator: "/")); devices use /d/{id}/data and /d/{id}/data/latest")
        }
        let id = path[1]
        if let refusal = checkCredentials(request, deviceID: id) { return refusal }
        let device: Device
        do {
            guard let found = try await ingest.device(id) else {
                problems.record(.unknownDevice, detail: id)
                return .error(404, "no device \(id)")
            }
            device = found
        } catch {
            return .error(503, "storage unavailable; try again")
        }
        switch (path.count, request.method) {
        case (3, .post), (3, .put): return await store(request.payload, for: device)
        case (4, .get): return await latest(of: device)
        default: return .error(405, "\(request.method.rawValue) is not allowed on /\(path.joined(separator: "/"))")
        }
    }

    /// Nil when the caller is the device; otherwise the answer that refuses it.
    func checkCredentials(_ request: CoAPRequest, deviceID: String) -> CoAPResponse? {
        if let identity = request.identity {
            // The handshake already proved the identity holds its key.
            guard identity == deviceID else {
                problems.record(.wrongCredentials, detail: "DTLS identity \(identity) wrote to \(deviceID)")
                return .error(401, "this DTLS session belongs to device \(identity), not \(deviceID)")
            }
            guard keys.key(for: deviceID) != nil else {
                problems.record(.unknownDevice, detail: deviceID)
                return .error(404, "no device \(deviceID) on the coap connector")
            }
            return nil
        }
        guard let candidate = request.query["k"] else {
            problems.record(.wrongCredentials, detail: "\(deviceID): no key")
            return .error(401, "missing key: add ?k=<device password> or use DTLS")
        }
        // An unknown device and a wrong key get the same answer, so ids cannot be probed for.
        switch keys.check(deviceID: deviceID, candidate: candidate) {
        case nil:
            problems.record(.unknownDevice, detail: deviceID)
            return Self.wrongKey(deviceID)
        case false?:
            problems.record(.wrongCredentials, detail: deviceID)
            return Self.wrongKey(deviceID)
        case true?:
            return nil
        }
    }

    static func wrongKey(_ deviceID: String) -> CoAPResponse { .error(401, "wrong key for device \(deviceID)") }

    func store(_ payload: [UInt8], for device: Device) async -> CoAPResponse {
        let readings: [Reading]
        do {
            guard !payload.isEmpty else { throw APIError.badRequest("empty payload: send {\"values\": {...}}") }
            readings = try ingest.readings(payload: payload, of: device)
        } catch let error as DecodingError {
            let message = APIError(decoding: error).message
            problems.record(.malformed, detail: "\(device.id): \(message)")
            return .error(400, message)
        } catch let error as APIError {
            problems.record(.invalid, detail: "\(device.id): \(error.message)")
            return .error(400, error.message)
        } catch {
            problems.record(.malformed, detail: "\(device.id): \(error)")
            return .error(400, "payload is not JSON")
        }
        do {
            try await ingest.record(readings, devices: [device.id: device])
        } catch {
            // Not stored, so not acknowledged: the device keeps the reading and tries again.
            return .error(503, "storage unavailable; try again")
        }
        Counter(label: "cmc_coap_readings_stored_total").increment(by: Int64(readings.count))
        return .changed
    }

    func latest(of device: Device) async -> CoAPResponse {
        do {
            guard let reading = try await history.latest(device: device.id) else {
                return .error(404, "device \(device.id) has no readings yet")
            }
            var writer = JSONWriter(capacity: 256)
            reading.write(to: &writer)
            return .content(json: writer.bytes)
        } catch {
            return .error(503, "storage unavailable; try again")
        }
    }
}
