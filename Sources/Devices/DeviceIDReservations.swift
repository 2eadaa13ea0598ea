/// Device ids that another part of the platform keeps for itself: a feed's devices are
/// `<prefix>:<id in the feed>`, and nobody else may register one first and so take the real
/// sensor's place on the map.
public protocol DeviceIDReservations: Sendable {
    /// What holds `id` (a source's id), or nil when anyone may register it.
    func reservation(of id: String) -> String?
}
