import CMCCore
import Events
import Foundation
import Logging
import Metrics
import MQTT
import ServiceLifecycle

/// Publishes every event on the broker, as the event mesh between services and for external
/// systems: `<root>/events/{category}/{device}/{created|changed|deleted|reading}`, QoS 1, the
/// same JSON as `/events`. Subscribers pick with wildcards: `cmc/events/parking/#`.
public final class MQTTEvents: Service, Sendable {
    let client: MQTTClient
    let root: String
    let events: AsyncStream<Event>
    let logger: Logger
    private let connection = ConnectionSignal()

    /// Subscribes to the bus at once, so events from the first moment are kept until connected.
    public init(endpoint: MQTTEndpoint, bus: EventBus, root: String = "cmc", logger: Logger) throws {
        client = try MQTTClient(clientID: "cmc-events-\(UUID().uuidString.prefix(8))", cleanSession: true, endpoint: endpoint)
        self.root = root
        self.events = bus.subscribe(EventFilter(viewer: .everything, localOnly: true))
        self.logger = logger
    }

    @discardableResult
    public func waitUntilConnected() async -> Bool { await connection.wait() }

    /// Whether the broker holds the connection now.
    public var isConnected: Bool { client.isConnected }

    static func suffix(_ kind: Event.Kind) -> String {
        switch kind {
        case .deviceCreated: "created"
        case .deviceChanged: "changed"
        case .deviceDeleted: "deleted"
        case .reading: "reading"
        }
    }

    public func run() async throws {
        defer { connection.fail() }
        try await client.connect()
        connection.succeed()
        let failures = Counter(label: "cmc_mqtt_events_failed_total")
        await withTaskCancellationHandler {
            await cancelWhenGracefulShutdown {
                for await event in self.events {
                    let topic = "\(self.root)/events/\(event.category)/\(event.device)/\(Self.suffix(event.kind))"
                    do {
                        try self.client.enqueue(topic, payload: event.json, qos: 1)
                    } catch {
                        failures.increment()
                        self.logger.warning("event not published", metadata: ["topic": "\(topic)", "error": "\(error)"])
                    }
                }
            }
        } onCancel: {
            client.disconnect()
        }
        client.disconnect()
    }
}
