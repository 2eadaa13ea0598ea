import CMCTesting
import CoAP
import Foundation
import Platform
import Testing

/// The CoAP server in a running platform, spoken to by Debian's real `coap-client`.
// One CoAP server at a time: libcoap 4.3 keeps process-wide state, and a platform runs one.
@Suite("CoAP ingest", .serialized, .enabled(if: CoAPClient.isInstalled))
struct CoAPIngestTests {
    static func configuration() throws -> PlatformConfiguration {
        var configuration = TestPlatform.configuration()
        configuration.coapPort = try UDPPort.free()
        configuration.coapsPort = try UDPPort.free()
        return configuration
    }

    /// Registers a device on the coap connector and returns its key.
    static func register(_ id: String, _ t: TestPlatform, category: String = "parking") async throws -> String {
        let device = try await t.client.json(.post, "/devices", token: t.adminToken,
                                             body: ["id": id, "category": category, "connector": "coap"], expect: .created)
        let credentials = try #require(device["credentials"] as? [String: Any])
        #expect(credentials["username"] as? String == id)
        return try #require(credentials["password"] as? String)
    }

    @Test("readings posted over CoAP are stored like REST writes; each kind of bad request gets its code", arguments: TestBackend.all)
    func udp(backend: TestBackend) async throws {
        let configuration = try Self.configuration()
        let coap = CoAPClient(port: configuration.coapPort!, securePort: configuration.coapsPort!)
        try await TestPlatform.run(backend, configuration: configuration) { t in
            let key = try await Self.register("cam-1", t)
            let stored = try await coap.post("/d/cam-1/data?k=\(key)", #"{"values":{"free":12,"occupied":88}}"#)
            #expect(stored.code == nil, "no error: \(stored.output)")
            // Acknowledged means durable: History has it at once.
            let history = try await t.client.json(.get, "/history?device=cam-1", token: t.adminToken)
            let readings = try #require(history["readings"] as? [[String: Any]])
            #expect(readings.count == 1)
            #expect((readings.first?["values"] as? [String: Any])?["free"] as? Double == 12)
            #expect(readings.first?["connector"] as? String == "coap")

            let batch = try await coap.post("/d/cam-1/data?k=\(key)",
                                      #"[{"ts":"2026-01-01T00:00:00Z","values":{"free":1}},{"ts":"2026-01-01T00:01:00Z","values":{"free":2}}]"#)
            #expect(batch.code == nil, "\(batch.output)")
            let latest = try await coap.get("/d/cam-1/data/latest?k=\(key)")
            #expect(latest.code == nil)
            let latestJSON = try JSONSerialization.jsonObject(with: Data(latest.output.utf8)) as? [String: Any]
            #expect((latestJSON?["values"] as? [String: Any])?["free"] as? Double == 12)

            #expect(try await coap.post("/d/cam-1/data?k=wrong-key", #"{"values":{"free":1}}"#).code == "4.01")
            #expect(try await coap.post("/d/cam-1/data", #"{"values":{"free":1}}"#).code == "4.01")
            // An unknown device answers as a wrong key does: ids cannot be probed for.
            let unknown = try await coap.post("/d/no-such-cam/data?k=\(key)", #"{"values":{"free":1}}"#)
            let wrong = try await coap.post("/d/cam-1/data?k=\(String(repeating: "x", count: key.count))", #"{"values":{"free":1}}"#)
            #expect(unknown.code == "4.01")
            #expect(unknown.output.replacingOccurrences(of: "no-such-cam", with: "cam-1") == wrong.output)
            let garbage = try await coap.post("/d/cam-1/data?k=\(key)", #"{"values":"#)
            #expect(garbage.code == "4.00")
            #expect(garbage.output.contains("JSON"), "diagnostic payload: \(garbage.output)")
            let unknownField = try await coap.post("/d/cam-1/data?k=\(key)", #"{"values":{"free":1},"colour":"red"}"#)
            #expect(unknownField.code == "4.00")
            #expect(unknownField.output.contains("colour"), "names the field: \(unknownField.output)")
            #expect(try await coap.post("/d/cam-1/data?k=\(key)", #"{"ts":"2999-01-01T00:00:00Z","values":{"free":1}}"#).code == "4.00")
            #expect(try await coap.post("/elsewhere?k=\(key)", "{}").code == "4.04")
            #expect(try await coap.get("/d/cam-1/data?k=\(key)").code == "4.05")
            // Datagrams that are not CoAP at all are counted and change nothing.
            try CoAPClient.sendRaw([Array("not coap at all".utf8), [0xFF, 0xFF, 0xFF, 0xFF, 0x00], [0x40, 0x02, 0x00, 0x01, 0xBF]],
                                   port: configuration.coapPort!)

            let after = try await coap.post("/d/cam-1/data?k=\(key)", #"{"values":{"free":7}}"#)
            #expect(after.code == nil, "the server still works: \(after.output)")
            let all = try await t.client.json(.get, "/history?device=cam-1", token: t.adminToken)
            #expect((all["readings"] as? [[String: Any]])?.count == 4)

            let metrics = try await t.client.send(.get, "/metrics").text
            for reason in ["malformed", "invalid", "unknown_device", "wrong_credentials"] {
                #expect(metrics.contains("cmc_coap_rejected_total{reason=\"\(reason)\"}"), "counted: \(reason)")
            }
            let malformed = metrics.split(separator: "\n").first { $0.hasPrefix("cmc_coap_rejected_total{reason=\"malformed\"}") }
            #expect(malformed.flatMap { Double($0.split(separator: " ").last!) } ?? 0 >= 3)
        }
    }

    @Test("a reading larger than one datagram arrives block-wise (RFC 7959) and is stored whole; a body over 256 KiB is refused with 4.13")
    func blockwise() async throws {
        let configuration = try Self.configuration()
        let coap = CoAPClient(port: configuration.coapPort!, securePort: configuration.coapsPort!)
        try await TestPlatform.run(.sqlite, configuration: configuration) { t in
            let key = try await Self.register("sign-1", t, category: "signage")
            // coap-client sends what does not fit one PDU in blocks of 1024 bytes: five here.
            let text = (0..<500).map { "line \($0);" }.joined()
            let large = try await coap.post("/d/sign-1/data?k=\(key)", #"{"values":{"text":"\#(text)","n":1}}"#)
            #expect(large.code == nil, "\(large.output)")
            let latest = try await t.client.json(.get, "/history/sign-1/latest", token: t.adminToken)
            #expect((latest["values"] as? [String: Any])?["text"] as? String == text, "the body is put together in order, every byte")
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("coap-\(UUID().uuidString).json")
            defer { try? FileManager.default.removeItem(at: file) }
            try Data(#"{"values":{"text":"\#(String(repeating: "x", count: 300_000))"}}"#.utf8).write(to: file)
            let huge = try await coap.post("/d/sign-1/data?k=\(key)", file: file)
            #expect(huge.code == "4.13", "\(huge.output.prefix(200))")
            #expect(try await coap.post("/d/sign-1/data?k=\(key)", #"{"values":{"n":2}}"#).code == nil, "the server goes on")
        }
    }

    @Test("DTLS with the device id as PSK identity and its password as the key", arguments: TestBackend.all)
    func dtls(backend: TestBackend) async throws {
        let configuration = try Self.configuration()
        let coap = CoAPClient(port: configuration.coapPort!, securePort: configuration.coapsPort!)
        try await TestPlatform.run(backend, configuration: configuration) { t in
            let key = try await Self.register("loop-1", t, category: "traffic")
            let other = try await Self.register("loop-2", t, category: "traffic")
            let stored = try await coap.post("/d/loop-1/data", #"{"values":{"flow":420}}"#, identity: "loop-1", key: key)
            #expect(stored.code == nil, "\(stored.output)")
            let latest = try await coap.get("/d/loop-1/data/latest", identity: "loop-1", key: key)
            #expect(latest.output.contains(#""flow":420"#), "\(latest.output)")
            // A device's session cannot write another device's data.
            #expect(try await coap.post("/d/loop-2/data", #"{"values":{"flow":1}}"#, identity: "loop-1", key: key).code == "4.01")
            // A wrong key never completes the handshake, so nothing is stored.
            _ = try await coap.post("/d/loop-2/data", #"{"values":{"flow":1}}"#, identity: "loop-2", key: "not-\(other)", patience: 2)
            let history = try await t.client.json(.get, "/history?device=loop-2", token: t.adminToken)
            #expect((history["readings"] as? [[String: Any]])?.isEmpty == true)
        }
    }

    @Test("a rotated key retires the old one; a deleted device's key stops working", arguments: TestBackend.all)
    func keyLifecycle(backend: TestBackend) async throws {
        let configuration = try Self.configuration()
        let coap = CoAPClient(port: configuration.coapPort!, securePort: configuration.coapsPort!)
        try await TestPlatform.run(backend, configuration: configuration) { t in
            let old = try await Self.register("bin-1", t, category: "waste")
            let renewed = try await t.client.json(.post, "/devices/bin-1/credentials", token: t.adminToken)
            let new = try #require((renewed["credentials"] as? [String: Any])?["password"] as? String)
            #expect(try await coap.post("/d/bin-1/data?k=\(old)", #"{"values":{"fill":0.5}}"#).code == "4.01")
            #expect(try await coap.post("/d/bin-1/data?k=\(new)", #"{"values":{"fill":0.5}}"#).code == nil)
            try await t.client.json(.delete, "/devices/bin-1", token: t.adminToken, expect: .noContent)
            #expect(try await coap.post("/d/bin-1/data?k=\(new)", #"{"values":{"fill":0.6}}"#).code == "4.01", "a deleted device's key works no more")
        }
    }

    @Test("concurrent devices all get their readings stored", arguments: TestBackend.all)
    func concurrent(backend: TestBackend) async throws {
        let configuration = try Self.configuration()
        let coap = CoAPClient(port: configuration.coapPort!, securePort: configuration.coapsPort!)
        try await TestPlatform.run(backend, configuration: configuration) { t in
            var keys: [String] = []
            for i in 0..<20 { keys.append(try await Self.register("bike-\(i)", t, category: "bikesharing")) }
            let codes = try await withThrowingTaskGroup(of: String?.self) { group in
                for (i, key) in keys.enumerated() {
                    for n in 0..<5 {
                        group.addTask {
                            // A device that hears nothing sends the same reading again (same time,
                            // so it is stored once); coap-client gives up after CoAPClient.patience.
                            let path = "/d/bike-\(i)/data?k=\(key)", body = #"{"ts":"2026-02-01T00:0\#(n):00Z","values":{"free":\#(n)}}"#
                            let first = try await coap.post(path, body).code
                            return first == "no answer" ? try await coap.post(path, body).code : first
                        }
                    }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            let metrics = try await t.client.send(.get, "/metrics").text
            #expect(codes.allSatisfy { $0 == nil }, "\(codes.enumerated().filter { $0.element != nil }) \(metrics.split(separator: "\n").filter { $0.hasPrefix("cmc_coap") })")
            let page = try await t.client.json(.get, "/history?category=bikesharing&limit=1000", token: t.adminToken)
            #expect((page["readings"] as? [[String: Any]])?.count == 100)
        }
    }
}
