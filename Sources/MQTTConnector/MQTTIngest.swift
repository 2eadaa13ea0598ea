import CMCCore
import Devices
import Foundation
import History
import Logging
import Metrics
import MQTT
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Stores the readings devices publish on `<root>/devices/{id}/data`, exactly as a REST write
/// would: the same validation, the same History.
///
/// It keeps one persistent MQTT session (fixed client id, QoS 1), so readings published while the
/// platform is down wait in the broker and are stored when it returns. Messages are taken in
/// batches, each stored in one transaction and only then acknowledged: a reading the broker
/// counts as delivered is on disk. After a crash the broker sends the unacknowledged rest again;
/// readings that carry their time are stored once, as (device, time) is their key.
public final class MQTTIngest: Service, Sendable {
    public struct Configuration: Sendable {
        public var endpoint: MQTTEndpoint
        public var clientID: String
        /// Topics are `<root>/devices/{id}/data`.
        public var root: String
        public var maximumBatch: Int
        /// Seconds the broker keeps the session, and queues for it, while the ingest is away.
        public var sessionExpiry: UInt32 = 7 * 24 * 3600

        public init(endpoint: MQTTEndpoint, clientID: String = "cmc-ingest", root: String = "cmc", maximumBatch: Int = 2000) {
            self.endpoint = endpoint
            self.clientID = clientID
            self.root = root
            self.maximumBatch = maximumBatch
        }
    }

    let configuration: Configuration
    let ingest: ReadingIngest
    let logger: Logger
    let problems: ProblemLog
    private let connection = ConnectionSignal()
    private let stopping = NIOLockedValueBox(false)

    public init(configuration: Configuration, ingest: ReadingIngest, logger: Logger) {
        self.configuration = configuration
        self.ingest = ingest
        self.logger = logger
        self.problems = ProblemLog(connector: "mqtt", logger: logger)
    }

    /// Returns once the subscription is in place (true) or the service has stopped (false).
    @discardableResult
    public func waitUntilConnected() async -> Bool {
        await connection.wait()
    }

    public func run() async throws {
        defer { connection.fail() }
        var subscription = MQTTSubscriber.Configuration(endpoint: configuration.endpoint, clientID: configuration.clientID,
                                                        topics: ["\(configuration.root)/devices/+/data"])
        subscription.sessionExpiry = configuration.sessionExpiry
        let session = MQTTSubscriber(configuration: subscription, logger: logger)
        // A broker still starting is waited for, unless the platform stops first.
        do {
            try await cancelWhenGracefulShutdown { try await session.connect() }
        } catch is CancellationError {
            return
        }
        logger.info("MQTT ingest connected", metadata: ["broker": "\(configuration.endpoint.host):\(configuration.endpoint.port)"])
        connection.succeed()

        let stop: @Sendable () -> Void = { [stopping] in
            stopping.withLockedValue { $0 = true }
            session.stopReceiving()
        }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                // While one batch commits, the next is decoded and checked. Commits stay in order,
                // and each batch is acknowledged to the broker only once it is committed, so a
                // crash leaves it in the broker's session to be sent again. A commit runs in a task
                // of its own that finishes even if this one is cancelled.
                var committing: Task<Void, Never>?
                while let batch = await session.receive(limit: configuration.maximumBatch) {
                    let prepared = await self.prepare(batch)
                    await committing?.value
                    committing = Task {
                        if await self.commit(prepared) { session.acknowledge(batch) }
                    }
                }
                await committing?.value
            } onCancel: {
                stop()
            }
        } onGracefulShutdown: {
            stop()
        }
        await session.close()
    }

    struct Prepared: Sendable {
        let messages: Int
        let readings: [Reading]
        let devices: [String: Device]
    }

    /// Decodes and checks a batch; refusals are counted and logged here.
    func prepare(_ batch: [MQTTMessage]) async -> Prepared {
        var readings: [Reading] = []
        // Each device once per batch, whatever the cache does meanwhile.
        var known: [String: Device?] = [:]
        let now = Timestamp.now()
        for message in batch {
            guard message.payload.count <= Self.maximumPayload else {
                problems.record(.oversize, detail: "\(message.topic): \(message.payload.count) bytes")
                continue
            }
            guard let id = deviceID(in: message.topic) else {
                problems.record(.badTopic, detail: message.topic)
                continue
            }
            let device: Device?
            if let cached = known[id] {
                device = cached
            } else {
                device = await withStorageRetry { try await self.ingest.device(id) } ?? nil
                known[id] = device
            }
            guard let device else {
                problems.record(.unknownDevice, detail: id)
                continue
            }
            do {
                readings += try ingest.readings(payload: message.payload, of: device, now: now)
            } catch let error as DecodingError {
                problems.record(.malformed, detail: "\(id): \(APIError(decoding: error).message)")
            } catch let error as APIError {
                problems.record(.invalid, detail: "\(id): \(error.message)")
            } catch {
                problems.record(.malformed, detail: "\(id): \(error)")
            }
        }
        return Prepared(messages: batch.count, readings: readings, devices: known.compactMapValues { $0 })
    }

    /// Stores prepared readings in one transaction, retrying storage while it fails; true once
    /// the batch is done with (stored, or refused whole) and may be acknowledged.
    func commit(_ prepared: Prepared) async -> Bool {
        Counter(label: "cmc_mqtt_messages_total").increment(by: Int64(prepared.messages))
        guard !prepared.readings.isEmpty else { return true }
        guard let stored = await withStorageRetry({ try await self.ingest.record(prepared.readings, devices: prepared.devices) }) else { return false }
        Counter(label: "cmc_mqtt_readings_stored_total").increment(by: Int64(stored))
        return true
    }

    /// The same limit as a REST body.
    static let maximumPayload = 1 << 20

    func deviceID(in topic: String) -> String? {
        let prefix = configuration.root + "/devices/"
        guard topic.hasPrefix(prefix), topic.hasSuffix("/data") else { return nil }
        let id = topic.dropFirst(prefix.count).dropLast("/data".count)
        guard !id.isEmpty, !id.contains("/") else { return nil }
        return String(id)
    }

    /// Retries storage until it works; once the service is stopping, gives up after a few tries
    /// (returning nil) rather than hold the shutdown forever. What it gave up on was not
    /// acknowledged, so the broker sends it again on the next start.
    func withStorageRetry<T>(_ body: () async throws -> T) async -> T? {
        var delay = Duration.milliseconds(50)
        var attempts = 0
        while true {
            do {
                return try await body()
            } catch {
                attempts += 1
                if stopping.withLockedValue({ $0 }), attempts >= 5 {
                    logger.error("stopping before MQTT readings could be stored; the broker keeps them", metadata: ["error": "\(error)"])
                    return nil
                }
                logger.error("storing MQTT readings failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }
}
