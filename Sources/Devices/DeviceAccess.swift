import Auth
import CMCCore
import History

/// Who may see and change a device.
///
/// Admins and the platform's services reach every device. A user reaches the devices they own and
/// reads public ones; an application acts for the user who registered it; a caller without a token
/// (a citizen on the web map) reads public ones. Devices a caller may not read answer 404, so their
/// existence does not leak.
public struct DeviceAccess: Sendable {
    public static func canRead(_ device: Device, by principal: Principal?) -> Bool {
        guard let principal else { return device.public }
        return principal.isPrivileged || device.public || device.ownerID == principal.actingUserID
    }

    public static func canWrite(_ device: Device, by principal: Principal) -> Bool {
        principal.isPrivileged || device.ownerID == principal.actingUserID
    }

    /// The owner to filter lists by; nil when the caller sees everything.
    public static func visibility(_ principal: Principal?) -> String? {
        principal?.isPrivileged == true ? nil : (principal?.actingUserID ?? "")
    }
}

/// The Devices service answering History's questions about access.
public struct LocalDeviceDirectory: DeviceDirectory {
    let repository: any DeviceRepository

    public init(repository: any DeviceRepository) { self.repository = repository }

    public func canRead(device: String, by principal: Principal?) async throws -> Bool {
        // An unknown device is nobody's to read, admins' included: History answers 404 for it as
        // Devices does (a deleted device's readings go with it).
        guard let found = try await repository.find(id: device) else { return false }
        return DeviceAccess.canRead(found, by: principal)
    }

    public func readableDevices(by principal: Principal?, category: String?, connector: String?, limit: Int) async throws -> [String]? {
        guard let user = DeviceAccess.visibility(principal) else { return nil }
        return try await repository.list(DeviceFilter(category: category, connector: connector, visibleTo: user, limit: limit)).map(\.id)
    }
}
