import Auth
import CMCCore

/// What a subscriber wants to hear about, and what it is allowed to.
public struct EventFilter: Sendable, Equatable {
    /// Who is listening: everything, or one user's devices plus the public ones (nil user: only public).
    public enum Viewer: Sendable, Equatable {
        case everything
        case user(String?)

        public init(_ principal: Principal?) {
            if let principal, principal.isPrivileged { self = .everything } else { self = .user(principal?.actingUserID) }
        }
    }

    public var viewer: Viewer
    public var kinds: Set<Event.Kind>?
    public var categories: Set<String>?
    public var devices: Set<String>?
    public var boundingBox: GeoBox?
    /// Only the events of this process: for what carries events out (the broker's topics,
    /// webhooks, the mesh), which the process that produced an event does once.
    public var localOnly: Bool

    public init(viewer: Viewer, kinds: Set<Event.Kind>? = nil, categories: Set<String>? = nil, devices: Set<String>? = nil,
                boundingBox: GeoBox? = nil, localOnly: Bool = false) {
        self.viewer = viewer
        self.kinds = kinds
        self.categories = categories
        self.devices = devices
        self.boundingBox = boundingBox
        self.localOnly = localOnly
    }

    /// Event types by name (`reading`, `device.created`...), refusing unknown ones.
    public static func kinds(_ names: some Sequence<String>, field: String) throws -> Set<Event.Kind> {
        try Set(names.map { name in
            guard let kind = Event.Kind(rawValue: name) else {
                throw APIError.invalid(field, "must list event types among \(Event.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kind
        })
    }

    public func admits(_ event: Event) -> Bool {
        if localOnly, event.remote { return false }
        if case .user(let user) = viewer, !event.isPublic, event.owner != user { return false }
        if let kinds, !kinds.contains(event.kind) { return false }
        if let categories, !categories.contains(event.category) { return false }
        if let devices, !devices.contains(event.device) { return false }
        if let boundingBox {
            guard let location = event.location, boundingBox.contains(location) else { return false }
        }
        return true
    }
}
