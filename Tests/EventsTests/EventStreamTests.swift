import AsyncHTTPClient
import CMCTesting
import Foundation
import HummingbirdWSClient
import Logging
import MQTT
import NIOConcurrencyHelpers
import NIOCore
import Platform
import Testing

/// `/events` and `/events/ws` on a live server, read by real HTTP and WebSocket clients.
@Suite("Event stream")
struct EventStreamTests {
    @Test("a client that stops reading is cut off by bytes; streams per address are capped", arguments: [TestBackend.sqlite])
    func boundedStreams(backend: TestBackend) async throws {
        try await TestPlatform.run(backend, live: true) { t in
            let port = try #require(t.client.port)
            let baseline = t.platform.events.subscriberCount
            // A client that sends its request and never reads, with a small socket buffer.
            let silent = try ExternalProcess("/usr/bin/python3", ["-c", """
                import socket, sys, time
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", int(sys.argv[1])))
                s.sendall(b"GET /events HTTP/1.1\\r\\nHost: x\\r\\nAccept: text/event-stream\\r\\n\\r\\n")
                time.sleep(60)
                """, "\(port)"])
            defer { silent.terminate() }
            var deadline = ContinuousClock.now + .seconds(10)
            while t.platform.events.subscriberCount == baseline, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(t.platform.events.subscriberCount == baseline + 1, "the silent client's stream is open")
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "big", "category": "weather", "connector": "http", "public": true], expect: .created)
            let blob = String(repeating: "x", count: 60_000)
            for index in 0..<200 {
                try await t.client.json(.post, "/devices/big/data", token: t.adminToken, body: ["values": ["blob": blob, "n": index]], expect: .created)
            }
            deadline = ContinuousClock.now + .seconds(10)
            while t.platform.events.subscriberCount > baseline, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(t.platform.events.subscriberCount == baseline, "12 MB behind: the client is cut off")

            // 32 streams from one address (one of them another process); the next is refused.
            // (A client of its own: the shared one holds 8 connections per host.)
            var pool = HTTPClient.Configuration()
            pool.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: pool)
            var open: [SSEListener] = []
            for _ in 0..<31 { open.append(try await SSEListener.open(port: port, query: "", client: client)) }
            let hangsUp = try ExternalProcess("/usr/bin/python3", ["-c", """
                import socket, sys, time
                s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
                s.sendall(b"GET /events HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
                s.recv(100)
                time.sleep(60)
                """, "\(port)"])
            deadline = ContinuousClock.now + .seconds(10)
            while t.platform.events.subscriberCount < baseline + 32, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let refused = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/events"), timeout: .seconds(10))
            #expect(refused.status == .tooManyRequests)
            hangsUp.terminate()
            for listener in open { listener.close() }
            try await client.shutdown()
        }
    }

    @Test("a stream ends once its token is revoked or its account changes", arguments: TestBackend.all)
    func streamEndsWithToken(backend: TestBackend) async throws {
        try await TestPlatform.run(backend, live: true) { t in
            let port = try #require(t.client.port)
            let alice = try await t.user("alice"), bruno = try await t.user("bruno")
            let revoked = try await SSEListener.open(port: port, query: "access_token=\(alice.token)")
            let demoted = try await SSEListener.open(port: port, query: "access_token=\(bruno.token)")
            let anonymous = try await SSEListener.open(port: port, query: "")
            defer { revoked.close(); demoted.close(); anonymous.close() }
            try await t.client.json(.post, "/auth/tokens/revoke", token: alice.token, body: ["token": alice.token], expect: .noContent)
            try await t.client.json(.patch, "/users/\(bruno.id)", token: t.adminToken, body: ["role": "operator"])
            let deadline = ContinuousClock.now + .seconds(10)
            while !(revoked.ended && demoted.ended), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(revoked.ended, "the revoked token's stream must end")
            #expect(demoted.ended, "the retired token's stream must end")
            #expect(!anonymous.ended)
            // And the events that follow reach only the streams still open.
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "after", "category": "parking", "connector": "http", "public": true], expect: .created)
            #expect(try await anonymous.waitFor(count: 1).count == 1)
            #expect(revoked.events.isEmpty && demoted.events.isEmpty)
        }
    }

    @Test("SSE streams device changes and readings, filtered and limited to what the caller may read", arguments: TestBackend.all)
    func serverSentEvents(backend: TestBackend) async throws {
        try await TestPlatform.run(backend, live: true) { t in
            let port = try #require(t.client.port)
            let alice = try await t.user("alice")
            let anonymous = try await SSEListener.open(port: port, query: "category=parking")
            let aliceStream = try await SSEListener.open(port: port, query: "access_token=\(alice.token)")
            let nearby = try await SSEListener.open(port: port, query: "bbox=9.10,39.20,9.13,39.23&access_token=\(t.adminToken)")
            defer { anonymous.close(); aliceStream.close(); nearby.close() }

            try await t.client.json(.post, "/devices", token: t.adminToken, body: [
                "id": "park-1", "category": "parking", "connector": "http", "public": true, "location": ["lat": 39.22, "lon": 9.12],
            ], expect: .created)
            try await t.client.json(.post, "/devices", token: alice.token, body: [
                "id": "alice-park", "category": "parking", "connector": "http", "location": ["lat": 39.30, "lon": 9.20],
            ], expect: .created)
            try await t.client.json(.post, "/devices", token: t.adminToken, body: [
                "id": "loop-1", "category": "traffic", "connector": "http", "public": true, "location": ["lat": 39.221, "lon": 9.121],
            ], expect: .created)
            try await t.client.json(.post, "/devices/park-1/data", token: t.adminToken, body: ["values": ["free": 5]], expect: .created)
            try await t.client.json(.post, "/devices/alice-park/data", token: alice.token, body: ["values": ["free": 9]], expect: .created)
            try await t.client.json(.patch, "/devices/park-1", token: t.adminToken, body: ["nickname": "Piazza Yenne"])
            try await t.client.json(.delete, "/devices/alice-park", token: alice.token, expect: .noContent)

            let seenByAnonymous = try await anonymous.waitFor(count: 3)
            #expect(seenByAnonymous.map(\.summary) == ["device.created park-1", "reading park-1", "device.changed park-1"])
            let reading = try #require(seenByAnonymous.first { $0.type == "reading" })
            #expect(((reading.json["data"] as? [String: Any])?["values"] as? [String: Any])?["free"] as? Double == 5)
            #expect(reading.json["category"] as? String == "parking")
            let created = try #require(seenByAnonymous.first)
            #expect((created.json["data"] as? [String: Any])?["credentials"] == nil)

            let seenByAlice = try await aliceStream.waitFor(count: 7)
            #expect(seenByAlice.map(\.summary) == [
                "device.created park-1", "device.created alice-park", "device.created loop-1", "reading park-1",
                "reading alice-park", "device.changed park-1", "device.deleted alice-park",
            ])
            let seenNearby = try await nearby.waitFor(count: 4)
            #expect(seenNearby.map(\.summary) == ["device.created park-1", "device.created loop-1", "reading park-1", "device.changed park-1"])
            // Nothing else trickles in afterwards.
            try await Task.sleep(for: .milliseconds(300))
            #expect(anonymous.events.count == 3)
            #expect(nearby.events.count == 4)
        }
    }

    @Test("bad filters and bad tokens are refused with JSON errors naming the field", arguments: [TestBackend.sqlite])
    func badRequests(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            for (query, field) in [("bbox=9.1,39.2", "bbox"), ("bbox=9.2,39.2,9.1,39.3", "bbox"), ("type=reading,exploded", "type"), ("colour=red", "colour")] {
                let reply = try await t.client.send(.get, "/events?\(query)")
                #expect(reply.status == .badRequest, "\(query)")
                #expect(reply.text.contains("\"message\":\"\(field):"), "\(query): \(reply.text)")
            }
            #expect(try await t.client.send(.get, "/events?access_token=forged.token.value").status == .unauthorized)
            // The query token is for the event stream only.
            #expect(try await t.client.send(.get, "/users/me?access_token=\(t.adminToken)").status == .unauthorized)
            #expect(try await t.client.send(.get, "/events/ws").status == .badRequest)
        }
    }

    @Test("the WebSocket carries the same events", arguments: TestBackend.all)
    func webSocket(backend: TestBackend) async throws {
        try await TestPlatform.run(backend, live: true) { t in
            let port = try #require(t.client.port)
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "bin-7", "category": "waste", "connector": "http"], expect: .created)
            let received = NIOLockedValueBox<[String]>([])
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/events/ws?type=reading&device=bin-7&access_token=\(t.adminToken)",
                                                      logger: Logger(label: "test")) { inbound, _, _ in
                        for try await message in inbound.messages(maxSize: 1 << 16) {
                            if case .text(let text) = message { received.withLockedValue { $0.append(text) } }
                            break
                        }
                    }
                }
                // The socket subscribes once upgraded; write until a reading comes through.
                let deadline = ContinuousClock.now + .seconds(10)
                var fill = 0.0
                while received.withLockedValue({ $0.isEmpty }), ContinuousClock.now < deadline {
                    fill += 0.1
                    try await t.client.json(.post, "/devices/bin-7/data", token: t.adminToken, body: ["values": ["fill": fill]], expect: .created)
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await group.next()
                group.cancelAll()
            }
            let text = try #require(received.withLockedValue { $0.first })
            let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(json["type"] as? String == "reading")
            #expect(json["device"] as? String == "bin-7")
            #expect(((json["data"] as? [String: Any])?["values"] as? [String: Any])?["fill"] != nil)
        }
    }

    @Test("events are published on the broker under cmc/events/{category}/{device}/{type}", .enabled(if: MQTTTestBroker.url != nil))
    func broker() async throws {
        var configuration = TestPlatform.configuration()
        configuration.mqttURL = MQTTTestBroker.url
        configuration.mqttClientID = "test-\(UUID().uuidString)"
        let device = "meter-\(UUID().uuidString.prefix(8).lowercased())"
        try await TestPlatform.run(.sqlite, configuration: configuration) { t in
            let endpoint = try MQTTEndpoint(url: MQTTTestBroker.url!)
            // A subscriber that is connected before the first event (a separate process may still be
            // starting when the events go out, when the whole suite runs at once).
            let subscriber = try MQTTClient(clientID: "events-test-\(UUID().uuidString.prefix(8))", cleanSession: true, endpoint: endpoint)
            try subscriber.subscribe("cmc/events/energy/\(device)/#", qos: 1)
            try await subscriber.connect()
            defer { subscriber.disconnect() }
            try await Task.sleep(for: .milliseconds(500))
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": device, "category": "energy", "connector": "http"], expect: .created)
            try await t.client.json(.post, "/devices/\(device)/data", token: t.adminToken, body: ["values": ["kwh": 3]], expect: .created)
            var lines: [String] = []
            // The receive below waits for messages; a client closed after 20 s ends it.
            let watchdog = Task { try await Task.sleep(for: .seconds(20)); subscriber.disconnect() }
            defer { watchdog.cancel() }
            while lines.count < 2 {
                guard let batch = await subscriber.receive(limit: 10) else { break }
                lines += batch.map { "\($0.topic) \(String(decoding: $0.payload, as: UTF8.self))" }
            }
            #expect(lines.count == 2, "\(lines)")
            #expect(lines.first?.hasPrefix("cmc/events/energy/\(device)/created {") == true)
            #expect(lines.last?.hasPrefix("cmc/events/energy/\(device)/reading {") == true)
            #expect(lines.last?.contains(#""kwh":3"#) == true)
        }
    }
}

/// Reads a Server-Sent Events stream in the background.
final class SSEListener: Sendable {
    struct Event: Sendable {
        let type: String
        let data: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any]) ?? [:] }
        var summary: String { "\(type) \(json["device"] as? String ?? "?")" }
    }

    private let received = NIOLockedValueBox<[Event]>([])
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let over = NIOLockedValueBox(false)
    var events: [Event] { received.withLockedValue { $0 } }
    /// The server ended the stream.
    var ended: Bool { over.withLockedValue { $0 } }

    /// Returns once the server has opened the stream (and so subscribed).
    static func open(port: Int, query: String, client: HTTPClient = .shared) async throws -> SSEListener {
        let listener = SSEListener()
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            let task = Task { [received = listener.received, over = listener.over] in
                var opened = false
                do {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/events?\(query)")
                    request.headers.add(name: "Accept", value: "text/event-stream")
                    let response = try await client.execute(request, timeout: .seconds(60))
                    guard response.status == .ok else { throw TestFailure("GET /events?\(query) answered \(response.status)") }
                    var pending = ""
                    for try await chunk in response.body {
                        pending += String(buffer: chunk)
                        if !opened {
                            guard pending.hasPrefix(": connected") else { throw TestFailure("the stream did not open: \(pending)") }
                            opened = true
                            ready.resume()
                        }
                        while let end = pending.range(of: "\n\n") {
                            let block = pending[..<end.lowerBound]
                            pending = String(pending[end.upperBound...])
                            var type = "message", data = ""
                            for line in block.split(separator: "\n") {
                                if line.hasPrefix("event: ") { type = String(line.dropFirst(7)) }
                                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
                            }
                            if !data.isEmpty { received.withLockedValue { $0.append(Event(type: type, data: data)) } }
                        }
                    }
                    over.withLockedValue { $0 = true }
                } catch {
                    if !opened { ready.resume(throwing: error) }
                }
            }
            listener.task.withLockedValue { $0 = task }
        }
        return listener
    }

    func waitFor(count: Int, timeout: Duration = .seconds(10)) async throws -> [Event] {
        let deadline = ContinuousClock.now + timeout
        while events.count < count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return events
    }

    func close() { task.withLockedValue { $0?.cancel() } }
}
