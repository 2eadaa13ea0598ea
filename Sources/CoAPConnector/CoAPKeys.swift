import CMCCore
import CMCStorage
import Devices
import Foundation
import NIOConcurrencyHelpers

/// The keys of devices whose connector is `coap`: issued when the device is registered, removed
/// with it, checked on every request.
///
/// All keys are held in memory as well, because a DTLS handshake asks for one on the I/O thread,
/// where there is no waiting for the database.
public final class CoAPKeys: DeviceAccounts, Sendable {
    let database: any Database
    private let cache = NIOLockedValueBox([String: String]())

    public init(database: any Database) {
        self.database = database
    }

    /// Reads every key into memory; call before serving.
    public func load() async throws {
        let rows = try await database.query("SELECT device_id, key FROM coap_device_keys")
        var keys: [String: String] = [:]
        for row in rows { keys[try row.string("device_id")] = try row.string("key") }
        cache.withLockedValue { $0 = keys }
    }

    public func issue(deviceID: String) async throws -> DeviceCredentials {
        let key = RandomToken.make(bytes: 18)
        try await database.query(
            "INSERT INTO coap_device_keys (device_id, key, issued_at) VALUES ($1, $2, $3) ON CONFLICT (device_id) DO UPDATE SET key = excluded.key, issued_at = excluded.issued_at",
            .text(deviceID), .text(key), .integer(Timestamp.now().microseconds)
        )
        cache.withLockedValue { $0[deviceID] = key }
        return DeviceCredentials(username: deviceID, password: key)
    }

    public func remove(deviceID: String) async throws {
        try await database.query("DELETE FROM coap_device_keys WHERE device_id = $1", .text(deviceID))
        _ = cache.withLockedValue { $0.removeValue(forKey: deviceID) }
    }

    public func key(for deviceID: String) -> String? {
        cache.withLockedValue { $0[deviceID] }
    }

    /// Whether `candidate` is the device's key, in time independent of where they differ.
    public func check(deviceID: String, candidate: String) -> Bool? {
        guard let key = key(for: deviceID) else { return nil }
        let a = Array(key.utf8), b = Array(candidate.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
