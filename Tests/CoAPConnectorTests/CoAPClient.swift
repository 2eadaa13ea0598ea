import CMCTesting
import CoAP
import Foundation
import Synchronization

/// Debian's `coap-client` (OpenSSL build, from libcoap3-bin), run once per request.
struct CoAPClient: Sendable {
    static let path = "/usr/bin/coap-client-openssl"
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: path) }

    let port: UInt16
    let securePort: UInt16
    /// Seconds coap-client waits for an answer.
    static let patience = 10

    struct Result {
        /// The response code when it is an error (`4.01`); nil for a success.
        let code: String?
        let output: String
        let status: Int32
    }

    func post(_ path: String, _ payload: String, identity: String? = nil, key: String? = nil, patience: Int = Self.patience) async throws -> Result {
        try await run(["-m", "post", "-e", payload], path: path, identity: identity, key: key, patience: patience)
    }

    /// A payload too long for a command-line argument (over 128 KiB), from a file.
    func post(_ path: String, file: URL) async throws -> Result {
        try await run(["-m", "post", "-f", file.path], path: path, identity: nil, key: nil)
    }

    func get(_ path: String, identity: String? = nil, key: String? = nil) async throws -> Result {
        try await run(["-m", "get"], path: path, identity: identity, key: key)
    }

    private func run(_ arguments: [String], path: String, identity: String?, key: String?, patience: Int = Self.patience) async throws -> Result {
        // A token of its own: coap-client's default is always 01, and its sockets allow address
        // reuse, so a process can get the port of another (finished, or even still waiting) and
        // would then take that one's answers for its own. Hence also a local port of its own.
        let localPort = try Self.ports.take()
        defer { Self.ports.give(back: localPort) }
        var arguments = arguments + ["-B", "\(patience)", "-p", "\(localPort)", "-T", String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)]
        if let identity, let key {
            arguments += ["-u", identity, "-k", key, "coaps://127.0.0.1:\(securePort)\(path)"]
        } else {
            arguments += ["coap://127.0.0.1:\(port)\(path)"]
        }
        let started = ContinuousClock.now
        let outcome = try await ExternalProcess.run(Self.path, arguments)
        let output = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
        // coap-client prints an error response as "4.01 <diagnostic>".
        var code = output.range(of: #"^[45]\.\d\d"#, options: .regularExpression).map { String(output[$0]) }
        // coap-client exits 0 when it gives up waiting, too.
        if code == nil, ContinuousClock.now - started >= .seconds(patience) { code = "no answer" }
        return Result(code: code, output: output, status: outcome.status)
    }

    /// Local ports of the clients running now, so no two share one.
    static let ports = LocalPorts()

    final class LocalPorts: Sendable {
        private let inUse = Mutex<Set<UInt16>>([])

        func take() throws -> UInt16 {
            while true {
                let port = try UDPPort.free()
                if inUse.withLock({ $0.insert(port).inserted }) { return port }
            }
        }

        func give(back port: UInt16) { _ = inUse.withLock { $0.remove(port) } }
    }

    /// Sends raw datagrams to the CoAP port.
    static func sendRaw(_ datagrams: [[UInt8]], port: UInt16) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        for datagram in datagrams {
            _ = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, datagram, datagram.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        usleep(200_000)
    }
}
