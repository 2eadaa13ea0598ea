import CMCTesting
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOConcurrencyHelpers
import Platform
import Testing
import Webhooks

/// Webhooks delivered over real HTTP to a receiver served on 127.0.0.1 in the test.
@Suite("Webhooks")
struct WebhookTests {
    /// What the receiver got.
    final class Inbox: Sendable {
        struct Delivery: Sendable {
            let path: String
            let signature: String?
            let event: String?
            let body: [UInt8]
            var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:] }
            var summary: String { "\(event ?? "?") \(json["device"] as? String ?? "?")" }
        }

        let deliveries = NIOLockedValueBox<[Delivery]>([])
        /// Whether `/flaky` answers 500.
        let failing = NIOLockedValueBox(true)

        func waitFor(_ count: Int, path: String, timeout: Duration = .seconds(10)) async throws -> [Delivery] {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let got = deliveries.withLockedValue { $0.filter { $0.path == path } }
                if got.count >= count { return got }
                try await Task.sleep(for: .milliseconds(20))
            }
            return deliveries.withLockedValue { $0.filter { $0.path == path } }
        }
    }

    /// Runs a receiver on a free port of 127.0.0.1 while `body` runs.
    static func withReceiver<T: Sendable>(_ body: @Sendable (Inbox, Int) async throws -> T) async throws -> T {
        let inbox = Inbox()
        let router = Router()
        router.post("{path}") { request, context -> HTTPResponse.Status in
            let path = context.parameters.get("path") ?? ""
            let bytes = try await request.body.collect(upTo: 1 << 20)
            inbox.deliveries.withLockedValue {
                $0.append(.init(path: path, signature: request.headers[values: .init("X-CMC-Signature")!].first,
                                event: request.headers[values: .init("X-CMC-Event")!].first, body: Array(buffer: bytes)))
            }
            if path == "flaky", inbox.failing.withLockedValue({ $0 }) { return .internalServerError }
            return .noContent
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live) { client in try await body(inbox, client.port!) }
    }

    @Test("events reach the subscriber's URL, signed, filtered and limited to what its creator may read", arguments: TestBackend.all)
    func delivery(backend: TestBackend) async throws {
        try await Self.withReceiver { inbox, port in
            try await TestPlatform.run(backend) { t in
                let alice = try await t.user("alice")
                let bob = try await t.user("bob")
                let created = try await t.client.json(.post, "/subscriptions", token: alice.token, body: [
                    "url": "http://127.0.0.1:\(port)/alice", "filter": ["category": ["parking"]],
                ], expect: .created)
                let id = try #require(created["id"] as? String)
                let secret = try #require(created["secret"] as? String)
                #expect(created["status"] as? String == "active")

                try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "park-1", "category": "parking", "connector": "http", "public": true], expect: .created)
                try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "loop-1", "category": "traffic", "connector": "http", "public": true], expect: .created)
                try await t.client.json(.post, "/devices", token: bob.token, body: ["id": "bob-park", "category": "parking", "connector": "http"], expect: .created)
                try await t.client.json(.post, "/devices/bob-park/data", token: bob.token, body: ["values": ["free": 1]], expect: .created)
                try await t.client.json(.post, "/devices/park-1/data", token: t.adminToken, body: ["values": ["free": 40]], expect: .created)

                let got = try await inbox.waitFor(2, path: "alice")
                #expect(got.map(\.summary) == ["device.created park-1", "reading park-1"])
                for delivery in got {
                    let mac = HMAC<SHA256>.authenticationCode(for: delivery.body, using: SymmetricKey(data: Data(secret.utf8)))
                    #expect(delivery.signature == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
                }
                #expect(((got.last?.json["data"] as? [String: Any])?["values"] as? [String: Any])?["free"] as? Double == 40)

                let listed = try await t.client.json(.get, "/subscriptions", token: alice.token)
                let entries = try #require(listed["subscriptions"] as? [[String: Any]])
                #expect(entries.count == 1)
                #expect(entries.first?["secret"] == nil, "the secret is shown once")
                #expect((entries.first?["filter"] as? [String: Any])?["category"] as? [String] == ["parking"])
                #expect(((try await t.client.json(.get, "/subscriptions", token: bob.token))["subscriptions"] as? [Any])?.isEmpty == true)
                #expect(try await t.client.send(.get, "/subscriptions/\(id)", token: bob.token).status == .notFound)
                #expect(try await t.client.send(.delete, "/subscriptions/\(id)", token: bob.token).status == .notFound)

                try await t.client.json(.delete, "/subscriptions/\(id)", token: alice.token, expect: .noContent)
                try await t.client.json(.post, "/devices/park-1/data", token: t.adminToken, body: ["values": ["free": 41]], expect: .created)
                try await Task.sleep(for: .milliseconds(300))
                #expect(inbox.deliveries.withLockedValue { $0.count } == 2, "nothing after the subscription is deleted")
            }
        }
    }

    @Test("a failing endpoint is retried with backoff, marked failing, and active again once it answers", arguments: TestBackend.all)
    func failing(backend: TestBackend) async throws {
        var configuration = TestPlatform.configuration()
        configuration.webhookPolicy.attempts = 3
        configuration.webhookPolicy.firstRetry = .milliseconds(20)
        configuration.webhookPolicy.failingAfter = 2
        let policy = configuration
        try await Self.withReceiver { inbox, port in
            try await TestPlatform.run(backend, configuration: policy) { t in
                let created = try await t.client.json(.post, "/subscriptions", token: t.adminToken, body: [
                    "url": "http://127.0.0.1:\(port)/flaky", "filter": ["type": ["device.created"]],
                ], expect: .created)
                let id = try #require(created["id"] as? String)
                for n in 1...2 {
                    try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "d-\(n)", "category": "misc", "connector": "http"], expect: .created)
                }
                // Two events, three attempts each.
                let attempts = try await inbox.waitFor(6, path: "flaky")
                #expect(attempts.count == 6)
                var state: [String: Any] = [:]
                let deadline = ContinuousClock.now + .seconds(5)
                repeat {
                    state = try await t.client.json(.get, "/subscriptions/\(id)", token: t.adminToken)
                    try await Task.sleep(for: .milliseconds(20))
                } while state["status"] as? String != "failing" && ContinuousClock.now < deadline
                #expect(state["status"] as? String == "failing")
                #expect(state["consecutiveFailures"] as? Int == 2)
                #expect(state["lastError"] as? String == "HTTP 500")
                #expect((state["deliveries"] as? [String: Any])?["failed"] as? Int == 2)

                inbox.failing.withLockedValue { $0 = false }
                try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "d-3", "category": "misc", "connector": "http"], expect: .created)
                _ = try await inbox.waitFor(7, path: "flaky")
                repeat {
                    state = try await t.client.json(.get, "/subscriptions/\(id)", token: t.adminToken)
                    try await Task.sleep(for: .milliseconds(20))
                } while state["status"] as? String != "active" && ContinuousClock.now < deadline + .seconds(5)
                #expect(state["status"] as? String == "active")
                #expect(state["consecutiveFailures"] as? Int == 0)
            }
        }
    }

    @Test("bad subscriptions are refused naming the field", arguments: [TestBackend.sqlite])
    func badInput(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            for (body, field) in [
                (["url": "ftp://example.org/x"] as [String: Any], "url"),
                (["url": "not a url"], "url"),
                (["url": "http://127.0.0.1/x", "filter": ["type": ["explosion"]]], "filter.type"),
                (["url": "http://127.0.0.1/x", "filter": ["bbox": [1, 2, 3]]], "filter.bbox"),
                (["url": "http://127.0.0.1/x", "filter": ["colour": "red"]], "colour"),
                (["url": "http://127.0.0.1/x", "secret": "mine"], "secret"),
            ] {
                let reply = try await t.client.send(.post, "/subscriptions", token: t.adminToken, body: body)
                #expect(reply.status == .badRequest, "\(body)")
                #expect(reply.text.contains(field), "\(body): \(reply.text)")
            }
            #expect(try await t.client.send(.post, "/subscriptions", body: ["url": "http://127.0.0.1/x"]).status == .unauthorized)
        }
    }

    @Test("loopback, private, link-local and metadata addresses cannot be subscribed, in any spelling", arguments: [TestBackend.sqlite])
    func internalAddresses(backend: TestBackend) async throws {
        var configuration = TestPlatform.configuration()
        configuration.outbound = .init()
        try await TestPlatform.run(backend, configuration: configuration) { t in
            let citizen = try await t.user("mallory")
            for url in ["http://127.0.0.1:5432/", "http://0x7f000001:8080/", "http://2130706433/", "http://localhost:1883/", "http://[::1]/",
                        "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.1.1/", "http://[::ffff:127.0.0.1]/"] {
                let reply = try await t.client.send(.post, "/subscriptions", token: citizen.token, body: ["url": url])
                #expect(reply.status == .badRequest, "\(url)")
                #expect(reply.errorMessage?.hasPrefix("url") == true, "\(url): \(reply.text)")
            }
            #expect((try await t.client.json(.get, "/subscriptions", token: t.adminToken)["subscriptions"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("a failed delivery says it failed, not what answered; a user holds 50 subscriptions at most", arguments: [TestBackend.sqlite])
    func quietFailures(backend: TestBackend) async throws {
        var configuration = TestPlatform.configuration()
        configuration.webhookPolicy.attempts = 1
        try await TestPlatform.run(backend, configuration: configuration) { t in
            // A port that answers something that is not HTTP, and one where nothing listens.
            func freePort() async throws -> String {
                try await ExternalProcess.run("/usr/bin/python3", ["-c", """
                    import socket
                    s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
                    """]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let garbagePort = try await freePort(), closedPort = try await freePort()
            let garbage = try ExternalProcess("/usr/bin/python3", ["-c", """
                import socket, sys
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
                while True:
                    c, _ = s.accept(); c.sendall(b"SSH-2.0-OpenSSH_9.2\\r\\n"); c.close()
                """, garbagePort], captureErrors: false)
            defer { garbage.terminate() }
            try await Task.sleep(for: .milliseconds(300))
            let citizen = try await t.user("mallory")
            var ids: [String] = []
            for port in [garbagePort, closedPort] {
                let created = try await t.client.json(.post, "/subscriptions", token: citizen.token, body: ["url": "http://127.0.0.1:\(port)/"], expect: .created)
                ids.append(created["id"] as! String)
            }
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "probe", "category": "parking", "connector": "http", "public": true], expect: .created)
            var errors: [String] = []
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                errors = try await ids.asyncMap { id in try await t.client.json(.get, "/subscriptions/\(id)", token: citizen.token)["lastError"] as? String ?? "" }
                if errors.allSatisfy({ !$0.isEmpty }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(errors.count == 2 && errors[0] == errors[1] && !errors[0].isEmpty, "\(errors)")
            #expect(!errors[0].contains("SSH") && !errors[0].lowercased().contains("refused"), "\(errors)")

            for index in 2..<50 {
                try await t.client.json(.post, "/subscriptions", token: citizen.token, body: ["url": "http://127.0.0.1:\(closedPort)/\(index)"], expect: .created)
            }
            let over = try await t.client.send(.post, "/subscriptions", token: citizen.token, body: ["url": "http://127.0.0.1:\(closedPort)/50"])
            #expect(over.status == .conflict, "\(over.text)")
            try await t.client.json(.post, "/subscriptions", token: t.adminToken, body: ["url": "http://127.0.0.1:\(closedPort)/admin"], expect: .created)
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
