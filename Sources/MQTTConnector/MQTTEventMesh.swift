import CMCCore
import Events
import Foundation
import Logging
import Metrics
import MQTT
import ServiceLifecycle

/// The event mesh between the platform's processes: each publishes the events it produces on
/// `<root>/mesh/events` (QoS 1) and hands those of every other process to its own bus, so a
/// stream on any process sees every reading and device change, and the caches that follow device
/// events stay current everywhere. Events heard here are marked remote: this process does not
/// publish them on the public topics, deliver them to webhooks or send them back on the mesh.
public final class MQTTEventMesh: Service, Sendable {
    /// This process among the others: its own events come back from the broker and are dropped.
    public let origin: String
    let client: MQTTClient
    let topic: String
    let bus: EventBus
    let local: AsyncStream<Event>
    let logger: Logger
    private let connection = ConnectionSignal()

    /// Subscribes to the bus at once, so events from the first moment reach the other processes.
    public init(endpoint: MQTTEndpoint, bus: EventBus, root: String = "cmc", logger: Logger) throws {
        origin = UUID().uuidString.lowercased()
        // A slow bus must not let the broker's messages pile up without end: past the bound they
        // are dropped (and counted); the caches' lifetimes cover what a dropped change would have said.
        client = try MQTTClient(clientID: "cmc-mesh-\(origin.prefix(8))", cleanSession: true, endpoint: endpoint, maximumQueued: 50_000)
        topic = "\(root)/mesh/events"
        self.bus = bus
        local = bus.subscribe(EventFilter(viewer: .everything, localOnly: true))
        self.logger = logger
    }

    @discardableResult
    public func waitUntilConnected() async -> Bool { await connection.wait() }

    public func run() async throws {
        defer { connection.fail() }
        try client.subscribe(topic, qos: 1)
        try await client.connect()
        connection.succeed()
        // A stop disconnects: what is being heard ends, then what is being sent.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    group.addTask { await self.send() }
                    await self.hear()
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                self.client.disconnect()
            }
        } onCancel: {
            client.disconnect()
        }
        client.disconnect()
    }

    /// This process's events out to the others.
    private func send() async {
        let failures = Counter(label: "cmc_mesh_events_failed_total")
        for await event in local {
            do {
                try client.enqueue(topic, payload: EventEnvelope.encode(event, origin: origin), qos: 1)
            } catch {
                failures.increment()
                logger.warning("event not sent to the mesh", metadata: ["device": "\(event.device)", "error": "\(error)"])
            }
        }
    }

    /// The others' events into this process's bus.
    private func hear() async {
        let heard = Counter(label: "cmc_mesh_events_received_total")
        let refused = Counter(label: "cmc_mesh_events_refused_total")
        let dropped = Counter(label: "cmc_mesh_events_dropped_total")
        var droppedBefore = 0
        while let messages = await client.receive(limit: 500) {
            let droppedNow = client.dropped
            if droppedNow > droppedBefore { dropped.increment(by: Int64(droppedNow - droppedBefore)) }
            droppedBefore = droppedNow
            var events: [Event] = []
            for message in messages {
                do {
                    let (event, from) = try EventEnvelope.decode(message.payload)
                    if from != origin { events.append(event) }
                } catch {
                    refused.increment()
                    logger.warning("mesh message refused", metadata: ["topic": "\(message.topic)", "reason": "\(error)"])
                }
            }
            heard.increment(by: Int64(events.count))
            bus.publish(events)
        }
    }
}
