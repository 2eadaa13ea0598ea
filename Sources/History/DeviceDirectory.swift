import Auth

/// What History needs to know of devices to answer a caller: which ones it may read.
/// Implemented by the Devices service (in-process now, over HTTP when it runs apart).
public protocol DeviceDirectory: Sendable {
    /// Whether the caller may read this device's data; false also when it does not exist.
    func canRead(device: String, by principal: Principal?) async throws -> Bool
    /// The devices the caller may read among those matching, up to `limit`; nil means "all of them".
    func readableDevices(by principal: Principal?, category: String?, connector: String?, limit: Int) async throws -> [String]?
}
