import AsyncHTTPClient
import CMCCore
import CMCTesting
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// `cmc serve` sent SIGTERM while clients write readings over REST.
@Suite("cmc serve stops in order", .enabled(if: CMCBinary.isBuilt))
struct StopTests {
    static let workers = 24
    static let start: Int64 = 1_767_225_600  // 2026-01-01, in seconds

    @Test("SIGTERM during a burst of REST writes: every request the platform took is answered (2xx or 503), and exactly the 2xx readings are on disk",
          arguments: TestBackend.all)
    func restBurst(backend: TestBackend) async throws {
        try await backend.withDatabase { database, url in
            let port = try freeTCPPort()
            let base = "http://127.0.0.1:\(port)"
            let server = try CMCBinary.start(["serve", "--database", url], environment: [
                "CMC_HOST": "127.0.0.1", "CMC_PORT": "\(port)", "CMC_COAP_PORT": "off", "CMC_CONNECTORS_DIR": "off",
                "CMC_ADMIN_EMAIL": TestPlatform.adminEmail, "CMC_ADMIN_PASSWORD": TestPlatform.adminPassword,
            ])
            defer { server.send(SIGKILL) }
            // The shared client needs no shutdown, so a failed requirement cannot leave one behind.
            let http = HTTPClient.shared

            @Sendable func send(_ method: HTTPMethod, _ path: String, token: String? = nil, body: String? = nil) async throws -> (UInt, String) {
                var request = HTTPClientRequest(url: base + path)
                request.method = method
                request.headers.add(name: "Content-Type", value: "application/json")
                if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                if let body { request.body = .bytes(ByteBuffer(string: body)) }
                let response = try await http.execute(request, timeout: .seconds(40))
                return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
            }
            var up = false
            for _ in 0..<300 where !up {
                up = (try? await send(.GET, "/health"))?.0 == 200
                if !up { try await Task.sleep(for: .milliseconds(100)) }
            }
            try #require(up, "cmc serve did not answer /health")
            let (_, signin) = try await send(.POST, "/users/signin", body: #"{"email":"\#(TestPlatform.adminEmail)","password":"\#(TestPlatform.adminPassword)"}"#)
            let token = try #require((try JSONSerialization.jsonObject(with: Data(signin.utf8)) as? [String: Any])?["token"] as? String)
            let device = "burst-\(UUID().uuidString.prefix(8).lowercased())"
            let (created, _) = try await send(.POST, "/devices", token: token, body: #"{"id":"\#(device)","category":"traffic","connector":"http"}"#)
            try #require(created == 201)

            // Each worker writes readings one after another, each with its own time, until the
            // server is gone; the outcome of every request is kept.
            let outcomes = Outcomes()
            var stopTime = Duration.zero
            var exit: ExternalProcess.Outcome?
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<Self.workers {
                    group.addTask {
                        for index in 0... {
                            let ts = Self.start + Int64(worker) * 1_000_000 + Int64(index)
                            do {
                                let (status, _) = try await send(.POST, "/devices/\(device)/data", token: token, body: #"{"ts":\#(ts),"values":{"n":\#(index)}}"#)
                                outcomes.record { (200..<300).contains(status) ? $0.stored.append(ts * 1_000_000) : $0.refused.append(status) }
                            } catch {
                                // Not taken: the connection was refused or closed before the request was read.
                                outcomes.record { $0.unanswered += 1 }
                                return
                            }
                        }
                    }
                }
                while outcomes.record({ $0.stored.count + $0.refused.count }) < 500 { try? await Task.sleep(for: .milliseconds(5)) }
                let stopping = ContinuousClock.now
                server.terminate()
                exit = await server.finished()
                stopTime = ContinuousClock.now - stopping
            }
            let result = outcomes.record { $0 }
            #expect(exit?.status == 0, "cmc serve after SIGTERM: \(exit?.output ?? "")")
            #expect(stopTime < .seconds(30), "the stop took \(stopTime)")
            #expect(result.refused.allSatisfy { $0 == 503 }, "answers other than 2xx and 503: \(Set(result.refused))")
            let onDisk = try await database.query("SELECT ts FROM readings WHERE device_id = $1", .text(device)).map { try $0.int("ts") }
            #expect(Set(onDisk) == Set(result.stored), "stored but not answered 2xx: \(Set(onDisk).subtracting(result.stored).count); answered 2xx but not stored: \(Set(result.stored).subtracting(onDisk).count)")
            #expect(onDisk.count == result.stored.count)
            print("REST stop under load (\(backend)): \(stopTime); \(result.stored.count) readings answered 2xx, \(result.refused.count) 503, \(result.unanswered) workers found the server gone")
        }
    }
}

/// What the burst's workers saw, shared between them.
final class Outcomes: @unchecked Sendable {
    struct Counts { var stored: [Int64] = []; var refused: [UInt] = []; var unanswered = 0 }
    private let lock = NSLock()
    private var counts = Counts()

    func record<T>(_ body: (inout Counts) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&counts)
    }
}
