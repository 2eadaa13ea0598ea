import MQTT

/// A benchmark's platform subscribes with a persistent session, as in production. Left behind,
/// the broker would queue every later reading for it; connecting once with a clean session
/// discards it. Runs after `body` whether it succeeded or not.
func withDiscardedSession<Result>(_ clientID: String, on endpoint: MQTTEndpoint, _ body: () async throws -> Result) async throws -> Result {
    func discard() async {
        guard let session = try? MQTTClient(clientID: clientID, cleanSession: true, endpoint: endpoint) else { return }
        try? await session.connect()
        session.disconnect()
    }
    do {
        let result = try await body()
        await discard()
        return result
    } catch {
        await discard()
        throw error
    }
}
