import ArgumentParser
import CMCCore
import Foundation
import MQTT
import MQTTConnector

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Play devices, for demos, tests and benchmarks.", subcommands: [SimulatedDevice.self])
}

/// A device on MQTT: publishes readings and acknowledges the commands it receives.
struct SimulatedDevice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "device", abstract: "Publish readings as a device and acknowledge its commands.")

    @Option(help: "The device id (its broker account is device:ID).") var id: String
    @Option(help: "The device's broker password (from POST /devices).") var password: String
    @Option(help: "Broker host and port.") var mqtt = "mqtt://127.0.0.1:1883"
    @Option(help: "Seconds between readings.") var interval = 1.0
    @Option(help: "Readings to publish; 0 for no limit (commands are answered until stopped).") var count = 0
    @Option(help: "Name of the value published.") var field = "value"
    @Flag(help: "Answer every command with a failure.") var failCommands = false

    func run() async throws {
        var endpoint = try MQTTEndpoint(url: mqtt)
        // The broker account and the client id it is bound to, as in the credentials of POST /devices.
        let account = BrokerAccounts.account(of: id)
        endpoint.username = account
        endpoint.password = password
        let client = try MQTTClient(clientID: account, cleanSession: true, endpoint: endpoint)
        let base = "cmc/devices/\(id)"
        try client.subscribe("\(base)/commands/+", qos: 1)
        try await client.connect()
        print("simulating \(id) on \(endpoint.host):\(endpoint.port)")
        fflush(nil)
        let (id, interval, count, field, failCommands) = (self.id, self.interval, self.count, self.field, self.failCommands)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var value = 20.0
                var sent = 0
                var random = SystemRandomNumberGenerator()
                while count == 0 || sent < count {
                    value += Double.random(in: -0.5...0.5, using: &random)
                    let payload = #"{"ts":"\#(Timestamp.now())","values":{"\#(field)":\#((value * 100).rounded() / 100)}}"#
                    try await client.publish("\(base)/data", payload: Array(payload.utf8), qos: 1)
                    sent += 1
                    if count == 0 || sent < count { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
                }
            }
            group.addTask {
                while let batch = await client.receive(limit: 100) {
                    // Answers go out together, as a device with many commands at once would send
                    // them, rather than each waiting for the broker's receipt of the one before.
                    try await withThrowingTaskGroup(of: Void.self) { answers in
                        for message in batch where !message.topic.hasSuffix("/ack") {
                            var name = "?"
                            if case .object(let command)? = try? JSONValue(parsing: message.payload), case .string(let given)? = command["name"] { name = given }
                            let answer = failCommands ? #"{"ok":false,"error":"simulated failure"}"# : #"{"ok":true,"result":{"done":"\#(name)","device":"\#(id)"}}"#
                            answers.addTask { try await client.publish(message.topic + "/ack", payload: Array(answer.utf8), qos: 1) }
                        }
                        try await answers.waitForAll()
                    }
                }
            }
            // Publishing ends after `count` readings; commands are answered until the process is stopped.
            try await group.next()
            if count > 0 { try await Task.sleep(for: .seconds(3600 * 24 * 365)) }
        }
    }
}
