import ArgumentParser
import Auth
import CoAP
import CMCCore
import CMCStorage
import Devices
import Foundation
import Hummingbird
import Logging
import MQTT
import NIOCore
import NIOEmbedded
import Platform
import ServiceLifecycle

/// Readings durably stored per second over MQTT and CoAP, each beside the rate of the same
/// traffic without the platform, measured in the same run with the same tools: Mosquitto's own
/// `mosquitto_pub` into `mosquitto_sub`, and `coap-client` against libcoap's own `coap-server`.
struct IngestBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ingest", abstract: "Time MQTT and CoAP ingest against the raw broker and CoAP rates.")

    @Option(help: "Broker URL with the platform's admin account (make run's broker: see data/mosquitto).") var mqtt: String
    @Option(help: "Devices publishing at once (one mosquitto_pub each).") var devices = 20
    @Option(help: "MQTT readings in all (QoS 1).") var readings = 100_000
    @Option(help: "CoAP requests in all, one reading each.") var coapRequests = 2000
    @Option(help: "coap-client processes at once.") var coapConcurrency = 16
    @Option(help: "Database URL; a fresh SQLite file when omitted.") var database: String?

    func run() async throws {
        try await withBenchDatabase(database) { url in try await measure(databaseURL: url) }
    }

    func measure(databaseURL url: String) async throws {
        var environment = try CommandEnvironment(databaseURL: url)
        environment.configuration.mqttURL = mqtt
        let clientID = "cmc-bench-\(UUID().uuidString.prefix(8))"
        environment.configuration.mqttClientID = clientID
        environment.configuration.coapPort = try UDPPort.free()
        environment.configuration.coapsPort = nil
        environment.configuration.logLevel = .error
        environment.logger.logLevel = .error
        let endpoint = try MQTTEndpoint(url: mqtt)
        let options = self
        let coapPort = environment.configuration.coapPort!
        let payloadSize = Self.line(device: 0, index: 0).utf8.count

        print("MQTT, QoS 1, \(readings) readings of \(payloadSize) bytes from \(devices) publishers")
        let raw = try await options.rawBroker(endpoint)
        print(String(format: "  broker alone (mosquitto_pub -> mosquitto_sub): %8.0f messages/s", raw))
        let coapRaw = try await options.rawCoAP()

        try await withDiscardedSession(clientID, on: endpoint) {
            try await measurePlatform(environment, endpoint: endpoint, raw: raw, coapRaw: coapRaw, coapPort: coapPort)
        }
    }

    func measurePlatform(_ environment: CommandEnvironment, endpoint: MQTTEndpoint, raw: Double, coapRaw: Double, coapPort: UInt16) async throws {
        let options = self
        try await environment.withDatabase { database in
            let platform = try await environment.platform(on: database)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for service in platform.services { group.addTask { try await service.run() } }
                defer { group.cancelAll() }
                try await Task.sleep(for: .seconds(1))  // the ingest's subscription
                let stored = try await options.platformMQTT(platform, database: database, endpoint)
                print(String(format: "  platform (stored durably, %@):   %8.0f readings/s = %.2f of the broker alone",
                             database.dialect.rawValue, stored, stored / raw))
                print("\nCoAP, confirmable POSTs, \(options.coapRequests) requests from \(options.coapConcurrency) coap-client processes at a time")
                print(String(format: "  libcoap's coap-server alone (PUT /example_data):   %8.0f requests/s", coapRaw))
                let coap = try await options.platformCoAP(platform, database: database, port: coapPort)
                print(String(format: "  platform (stored durably, %@):          %8.0f readings/s = %.2f of coap-server alone",
                             database.dialect.rawValue, coap, coap / coapRaw))
            }
        }
    }

    static func line(device: Int, index: Int) -> String {
        // Distinct times, so no reading is a repeat of another.
        let ts = Timestamp(microseconds: 1_767_225_600_000_000 + Int64(device) * 1_000_000_000 + Int64(index) * 1000)
        return #"{"ts":"\#(ts)","values":{"flow":\#(600 + index % 400),"speed":\#(30 + index % 40).5}}"#
    }

    func lines(device: Int) -> Data {
        let count = readings / devices + (device < readings % devices ? 1 : 0)
        return Data((0..<count).map { Self.line(device: device, index: $0) + "\n" }.joined().utf8)
    }

    func publishers(_ endpoint: MQTTEndpoint, topic: (Int) -> String) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for device in 0..<devices {
                let arguments = ["-h", endpoint.host, "-p", "\(endpoint.port)", "-u", endpoint.username ?? "", "-P", endpoint.password ?? "",
                                 "-q", "1", "-t", topic(device), "-l"]
                let input = lines(device: device)
                group.addTask { try await Tools.run("/usr/bin/mosquitto_pub", arguments, input: input) }
            }
            try await group.waitForAll()
        }
    }

    func rawBroker(_ endpoint: MQTTEndpoint) async throws -> Double {
        // Under cmc/: the platform's broker account may publish and subscribe there only.
        let root = "cmc/bench/\(UUID().uuidString.prefix(8))"
        let subscriber = Task {
            try await Tools.run("/usr/bin/mosquitto_sub", ["-h", endpoint.host, "-p", "\(endpoint.port)", "-u", endpoint.username ?? "",
                                                           "-P", endpoint.password ?? "", "-q", "1", "-t", "\(root)/#", "-C", "\(readings)", "-W", "600"],
                            input: nil)
        }
        try await Task.sleep(for: .milliseconds(500))
        let start = ContinuousClock.now
        try await publishers(endpoint) { "\(root)/d\($0)" }
        try await subscriber.value
        return Double(readings) / (ContinuousClock.now - start).seconds
    }

    func platformMQTT(_ platform: Platform, database: any Database, _ endpoint: MQTTEndpoint) async throws -> Double {
        let now = Timestamp.now()
        try await platform.clients.devices.register( (0..<devices).map {
            Device(id: "bench-\($0)", category: "traffic", connector: "bench", location: nil, nickname: nil, public: false,
                   metadata: [:], ownerID: "bench", createdAt: now, updatedAt: now)
        })
        let start = ContinuousClock.now
        try await publishers(endpoint) { "cmc/devices/bench-\($0)/data" }
        let deadline = ContinuousClock.now + .seconds(600)
        while try await storedCount(database) < readings {
            guard ContinuousClock.now < deadline else { throw ValidationError("only \(try await storedCount(database)) of \(readings) stored") }
            try await Task.sleep(for: .milliseconds(10))
        }
        return Double(readings) / (ContinuousClock.now - start).seconds
    }

    func storedCount(_ database: any Database) async throws -> Int {
        Int(try await database.query("SELECT COUNT(*) AS n FROM readings").first?.int("n") ?? 0)
    }

    func rawCoAP() async throws -> Double {
        let port = try UDPPort.free()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/coap-server-openssl")
        server.arguments = ["-A", "127.0.0.1", "-p", "\(port)"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        // coap-server does not stop on SIGTERM.
        defer { kill(server.processIdentifier, SIGKILL) }
        try await Task.sleep(for: .milliseconds(500))
        return try await coapLoad { index in
            ["-m", "put", "-e", Self.line(device: 0, index: index), "coap://127.0.0.1:\(port)/example_data"]
        }
    }

    func platformCoAP(_ platform: Platform, database: any Database, port: UInt16) async throws -> Double {
        // Devices registered through the API, which issues their keys.
        let token = try await platform.authority.issue(kind: .microservice, subject: "bench", lifetime: .seconds(3600))
        let responder = platform.router().buildResponder()
        // Thread-safe, unlike EmbeddedChannel: requests are answered on the cooperative pool.
        let channel = NIOAsyncTestingChannel()
        var keys: [String] = []
        for device in 0..<coapConcurrency {
            let body = #"{"id":"coap-\#(device)","category":"parking","connector":"coap"}"#
            let request = Request(
                head: .init(method: .post, scheme: "http", authority: "localhost", path: "/devices",
                            headerFields: [.authorization: "Bearer \(token.token)", .contentType: "application/json"]),
                body: .init(buffer: ByteBuffer(string: body))
            )
            let response = try await responder.respond(to: request, context: CMCRequestContext(source: .init(channel: channel, logger: Logger(label: "bench"))))
            let collector = CollectingWriter()
            try await response.body.write(collector)
            let json = try JSONSerialization.jsonObject(with: Data(collector.bytes)) as? [String: Any]
            guard let key = (json?["credentials"] as? [String: Any])?["password"] as? String else { throw ValidationError("registering a CoAP device failed") }
            keys.append(key)
        }
        let before = try await storedCount(database)
        let issued = keys
        let rate = try await coapLoad { index in
            let device = index % issued.count
            return ["-m", "post", "-e", Self.line(device: 1000 + device, index: index), "coap://127.0.0.1:\(port)/d/coap-\(device)/data?k=\(issued[device])"]
        }
        let stored = try await storedCount(database) - before
        if stored != coapRequests { print("  note: \(stored) of \(coapRequests) CoAP readings stored; coap-client got an error or no answer for the rest") }
        return rate
    }

    /// Runs `coapRequests` coap-client processes, `coapConcurrency` at a time; requests per second.
    func coapLoad(_ arguments: @escaping @Sendable (Int) -> [String]) async throws -> Double {
        let total = coapRequests, width = coapConcurrency
        // A local port of each worker's own: coap-client's sockets allow address reuse, and two
        // running at once were seen on the same ephemeral port, one taking the other's answer
        // (and resetting it) while the other waited out its 10 s.
        var ports = Set<UInt16>()
        while ports.count < width { ports.insert(try UDPPort.free()) }
        let localPorts = Array(ports)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<width {
                group.addTask {
                    for index in stride(from: worker, to: total, by: width) {
                        // A token of each request's own (coap-client's default is always 01).
                        try await Tools.run("/usr/bin/coap-client-openssl",
                                            ["-B", "10", "-p", String(localPorts[worker]), "-T", String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)]
                                                + arguments(index), input: nil)
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(total) / (ContinuousClock.now - start).seconds
    }
}

/// Keeps a response body (a class, so the bytes outlive the writer handed to the body).
final class CollectingWriter: ResponseBodyWriter {
    var bytes: [UInt8] = []
    func write(_ buffer: ByteBuffer) async throws { bytes += buffer.readableBytesView }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
