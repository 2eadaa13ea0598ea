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
            let subscriber = try ExternalProcess("/usr/bin/mosquitto_sub", [
                "-h", endpoint.host, "-p", "\(endpoint.port)", "-u", endpoint.username ?? "", "-P", endpoint.password ?? "",
                "-t", "cmc/events/energy/\(device)/#", "-v", "-C", "2", "-W", "20",
            ], captureErrors: false)
            try await Task.sleep(for: .milliseconds(500))
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": device, "category": "energy", "connector": "http"], expect: .created)
            try await t.client.json(.post, "/devices/\(device)/data", token: t.adminToken, body: ["values": ["kwh": 3]], expect: .created)
            let lines = await subscriber.finished().output.split(separator: "\n").map(String.init)
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
    var events: [Event] { received.withLockedValue { $0 } }

    /// Returns once the server has opened the stream (and so subscribed).
    static func open(port: Int, query: String) async throws -> SSEListener {
        let listener = SSEListener()
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            let task = Task { [received = listener.received] in
                var opened = false
                do {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/events?\(query)")
                    request.headers.add(name: "Accept", value: "text/event-stream")
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
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
