import CMCTesting
import Foundation
import MQTT

/// Mosquitto's own command-line clients against the test broker.
enum Mosquitto {
    static var endpoint: MQTTEndpoint { get throws { try MQTTEndpoint(url: MQTTTestBroker.url!) } }

    /// Host, port and the platform's broker account, as both clients take them.
    static func connection(_ endpoint: MQTTEndpoint) -> [String] {
        ["-h", endpoint.host, "-p", "\(endpoint.port)", "-u", endpoint.username ?? "", "-P", endpoint.password ?? ""]
    }

    /// `mosquitto_pub` sending each line as a QoS 1 message to `topic` (or all of them as one, `whole`).
    static func publisher(_ lines: [String], topic: String, whole: Bool = false) throws -> ExternalProcess {
        try ExternalProcess("/usr/bin/mosquitto_pub", connection(endpoint) + ["-q", "1", "-t", topic, whole ? "-s" : "-l"],
                            input: Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// A clean-session connection with the client id, which ends the session the broker kept for it.
    static func discardSession(_ clientID: String) async {
        guard let endpoint = try? endpoint else { return }
        _ = try? await ExternalProcess.run("/usr/bin/mosquitto_sub", connection(endpoint) + ["-i", clientID, "-t", "cmc/none", "-E"])
    }
}
