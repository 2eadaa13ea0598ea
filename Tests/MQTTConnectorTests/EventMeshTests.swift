import CMCCore
import CMCTesting
import Events
import Foundation
import MQTT
import NIOConcurrencyHelpers
import Testing

@Suite("Event mesh")
struct EventMeshTests {
    static func event(_ kind: Event.Kind = .reading) throws -> Event {
        Event(kind: kind, device: "mesh-1", category: "meshtest", owner: "u-1", isPublic: false, location: try GeoPoint(lat: 39.2, lon: 9.1),
              time: Timestamp(microseconds: 1_764_000_000_000_000), data: Values())
    }

    struct Values: JSONWritable {
        func write(to writer: inout JSONWriter) { writer.object(["values": .object(["t": .number(21.5)])]) }
    }

    @Test("an envelope carries what subscribers filter on and the event's JSON unchanged; anything else is refused")
    func envelopes() throws {
        let event = try Self.event()
        let (decoded, origin) = try EventEnvelope.decode(EventEnvelope.encode(event, origin: "p-1"))
        #expect(origin == "p-1" && decoded.remote && !event.remote)
        #expect(decoded.json == event.json && decoded.kind == .reading && decoded.device == "mesh-1" && decoded.category == "meshtest")
        #expect(decoded.owner == "u-1" && !decoded.isPublic && decoded.location == event.location && decoded.time == event.time)
        // A remote event reaches streams but not what carries events out again.
        #expect(EventFilter(viewer: .everything).admits(decoded) && !EventFilter(viewer: .everything, localOnly: true).admits(decoded))
        #expect(!EventFilter(viewer: .user("u-2")).admits(decoded) && EventFilter(viewer: .user("u-1")).admits(decoded))

        let header = #"{"origin":"p","kind":"reading","device":"d","category":"c","owner":"o","public":true,"time":1}"#
        let refused: [(String, [UInt8])] = [
            ("no header line", Array(#"{"a":1}"#.utf8)),
            ("the header is not an event header", Array("{\"origin\":1}\n{}".utf8)),
            ("unknown event type device.exploded", Array(header.replacingOccurrences(of: "reading", with: "device.exploded").utf8) + Array("\n{}".utf8)),
            ("the header is not an event header", Array(header.replacingOccurrences(of: #""time":1"#, with: #""time":1,"location":{"lat":200,"lon":0}"#).utf8) + Array("\n{}".utf8)),
            ("device is empty or longer than 256 bytes", Array(header.replacingOccurrences(of: #""device":"d""#, with: #""device":"""#).utf8) + Array("\n{}".utf8)),
            ("the event is not a JSON object", Array(header.utf8) + Array("\n[1]".utf8)),
            ("the event is not a JSON object", Array(header.utf8) + Array("\n{\"a\":".utf8)),
            ("larger than \(EventEnvelope.maximumBytes) bytes", Array(header.utf8) + [0x0A] + [UInt8](repeating: 0x20, count: EventEnvelope.maximumBytes)),
        ]
        for (reason, payload) in refused {
            #expect(throws: EventEnvelope.Refusal(reason)) { try EventEnvelope.decode(payload) }
        }
    }

    @Test("two processes on one database hear each other's events through the broker, keep their device caches current, and publish each event once",
          .enabled(if: MQTTTestBroker.url != nil && TestBackend.all.contains(.postgres)))
    func twoProcesses() async throws {
        let url = try #require(MQTTTestBroker.url)
        try await TestBackend.postgres.withDatabase { database in
            var first = TestPlatform.configuration()
            first.mqttURL = url
            first.eventMesh = true
            first.mqttClientID = "cmc-ingest-mesh-a-\(UUID().uuidString.prefix(6))"
            let one = first
            var second = first
            second.mqttClientID = "cmc-ingest-mesh-b-\(UUID().uuidString.prefix(6))"
            let two = second
            try await TestPlatform.run(database: database, configuration: one) { a in
                try await TestPlatform.run(database: database, configuration: two) { b in
                    let connectedA = await a.platform.mesh?.waitUntilConnected(), connectedB = await b.platform.mesh?.waitUntilConnected()
                    #expect(connectedA == true && connectedB == true)
                    // What the broker's public topics carry for the device, to count publications.
                    let watcher = try MQTTClient(clientID: "mesh-watch-\(UUID().uuidString.prefix(6))", cleanSession: true, endpoint: MQTTEndpoint(url: url))
                    let device = "mesh-\(UUID().uuidString.prefix(6).lowercased())"
                    try watcher.subscribe("cmc/events/meshtest/\(device)/#", qos: 1)
                    try await watcher.connect()
                    defer { watcher.disconnect() }
                    let published = NIOLockedValueBox<[String]>([])
                    let watching = Task { while let batch = await watcher.receive(limit: 100) { published.withLockedValue { $0 += batch.map(\.topic) } } }
                    defer { watching.cancel() }
                    // What each process's bus hands its subscribers, in order.
                    let heard = NIOLockedValueBox<[String: [Event]]>([:])
                    let listening = [("a", a), ("b", b)].map { name, process in
                        let stream = process.platform.events.subscribe(EventFilter(viewer: .everything, devices: [device]))
                        return Task { for await event in stream { heard.withLockedValue { $0[name, default: []].append(event) } } }
                    }
                    defer { for task in listening { task.cancel() } }
                    /// The `count`th event `name` heard, waiting at most a second for it.
                    func event(_ name: String, _ count: Int) async throws -> Event {
                        let deadline = ContinuousClock.now + .seconds(1)
                        while ContinuousClock.now < deadline {
                            if let found = heard.withLockedValue({ $0[name, default: []].dropFirst(count - 1).first }) { return found }
                            try await Task.sleep(for: .milliseconds(10))
                        }
                        throw TestFailure("process \(name) heard no event \(count) within 1 s: \(heard.withLockedValue { $0[name, default: []].map(\.kind) })")
                    }

                    // Created and written through A: B's streams hear both within a second, as remote.
                    try await a.client.json(.post, "/devices", token: a.adminToken, body: ["id": device, "category": "meshtest", "connector": "http", "public": true], expect: .created)
                    let created = try await event("b", 1)
                    #expect(created.kind == .deviceCreated && created.remote && created.isPublic)
                    #expect(try await event("a", 1).remote == false)
                    // B writes a reading: its device cache now holds the device as public.
                    try await b.client.json(.post, "/devices/\(device)/data", token: b.adminToken, body: ["values": ["t": 1]], expect: .created)
                    #expect(try await event("b", 2).isPublic == true)
                    #expect(try await event("a", 2).remote == true)
                    // A makes it private: B's cache hears it, and B's next reading is private at once
                    // (without the mesh it would stay public until the cache entry expired).
                    try await a.client.json(.patch, "/devices/\(device)", token: a.adminToken, body: ["public": false])
                    #expect(try await event("b", 3).kind == .deviceChanged)
                    try await b.client.json(.post, "/devices/\(device)/data", token: b.adminToken, body: ["values": ["t": 2]], expect: .created)
                    let reading = try await event("b", 4)
                    #expect(reading.kind == .reading && reading.isPublic == false && !reading.remote)
                    #expect(try await event("a", 4).remote == true)

                    // Four events, each on the public topics once: by the process that produced it.
                    let deadline = ContinuousClock.now + .seconds(2)
                    while published.withLockedValue({ $0.count }) < 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(published.withLockedValue { $0 }.map { String($0.split(separator: "/").last ?? "") }.sorted()
                            == ["changed", "created", "reading", "reading"])
                }
            }
        }
    }
}
