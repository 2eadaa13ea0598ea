import Foundation

/// The Mosquitto that `make test` starts, when `CMC_TEST_MQTT_URL` names it.
public enum MQTTTestBroker {
    public static var url: String? {
        let url = ProcessInfo.processInfo.environment["CMC_TEST_MQTT_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if url == nil, ProcessInfo.processInfo.environment["CMC_REQUIRE_MQTT"] == "1" {
            fatalError("CMC_REQUIRE_MQTT=1 but CMC_TEST_MQTT_URL is not set")
        }
        return url
    }
}
