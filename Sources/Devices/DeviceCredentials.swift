/// What a device signs in to its connector with; returned once, when issued.
public struct DeviceCredentials: Codable, Sendable, Equatable {
    public let username: String
    public let password: String
    /// The client id the account must connect with, for connectors that bind one (MQTT).
    public let clientID: String?

    public init(username: String, password: String, clientID: String? = nil) {
        self.username = username
        self.password = password
        self.clientID = clientID
    }

    enum CodingKeys: String, CodingKey {
        case username, password
        case clientID = "clientId"
    }
}

/// A connector that keeps its own accounts for devices (the MQTT broker): the Devices service
/// asks it for an account when a device is registered and removes it when the device goes.
public protocol DeviceAccounts: Sendable {
    /// Creates the device's account, or gives it a new password if it has one.
    func issue(deviceID: String) async throws -> DeviceCredentials
    func remove(deviceID: String) async throws
}
