import Platform
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test("the event mesh needs a broker and a shared PostgreSQL database, and says so")
    func eventMesh() throws {
        let cluster = ["CMC_EVENT_MESH": "on", "CMC_MQTT_URL": "mqtt://cmc:x@127.0.0.1:1883", "CMC_DATABASE_URL": "postgres://cmc@db/cmc"]
        #expect(try PlatformConfiguration(environment: cluster).eventMesh)
        #expect(try !PlatformConfiguration(environment: [:]).eventMesh)
        func refusal(_ environment: [String: String]) -> String {
            do {
                _ = try PlatformConfiguration(environment: environment)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal(cluster.merging(["CMC_MQTT_URL": ""]) { $1 }) == "CMC_EVENT_MESH=on needs CMC_MQTT_URL: the mesh runs through the broker")
        #expect(refusal(cluster.merging(["CMC_DATABASE_URL": "sqlite:./data/cmc.sqlite"]) { $1 })
                == "CMC_EVENT_MESH=on joins processes that share a PostgreSQL database; CMC_DATABASE_URL names sqlite")
        #expect(refusal(cluster.merging(["CMC_EVENT_MESH": "yes"]) { $1 }) == "CMC_EVENT_MESH must be on or off, not 'yes'")
    }
}
