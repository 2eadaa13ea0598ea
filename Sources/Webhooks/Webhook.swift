import CMCCore
import Events

/// An HTTP endpoint that receives the events its filter admits, as signed POSTs.
public struct Webhook: Sendable, Equatable {
    public enum Status: String, Sendable {
        case active
        /// Its recent deliveries failed even after retries; it returns to active on a success.
        case failing
    }

    public let id: String
    public let url: String
    public let filter: EventFilter
    /// The HMAC-SHA256 key of the `X-CMC-Signature` header; shown once, at creation.
    public let secret: String
    /// The principal's subject that created it; only they (or an admin) see and delete it.
    public let createdBy: String
    public var status: Status
    public var consecutiveFailures: Int
    public var lastError: String?
    public var lastFailureAt: Timestamp?
    public let createdAt: Timestamp
}

extension Webhook {
    /// The JSON answer; the secret only when `withSecret`.
    func write(to w: inout JSONWriter, withSecret: Bool, deliveries: WebhookDispatcher.Counts) {
        w.object { w in
            w.key("consecutiveFailures"); w.int(Int64(consecutiveFailures))
            w.key("createdAt"); w.timestamp(createdAt)
            w.key("deliveries")
            w.object { w in
                w.key("failed"); w.int(Int64(deliveries.failed))
                w.key("succeeded"); w.int(Int64(deliveries.succeeded))
            }
            w.key("filter"); filter.write(to: &w)
            w.key("id"); w.string(id)
            if let lastError { w.key("lastError"); w.string(lastError) }
            if let lastFailureAt { w.key("lastFailureAt"); w.timestamp(lastFailureAt) }
            if withSecret { w.key("secret"); w.string(secret) }
            w.key("status"); w.string(status.rawValue)
            w.key("url"); w.string(url)
        }
    }
}

extension EventFilter {
    /// The client-facing part (not the viewer), as the API takes it.
    func write(to w: inout JSONWriter) {
        w.object { w in
            if let boundingBox {
                w.key("bbox")
                w.array([boundingBox.minLon, boundingBox.minLat, boundingBox.maxLon, boundingBox.maxLat]) { $0.number($1) }
            }
            if let categories { w.key("category"); w.array(categories.sorted()) { $0.string($1) } }
            if let devices { w.key("device"); w.array(devices.sorted()) { $0.string($1) } }
            if let kinds { w.key("type"); w.array(kinds.map(\.rawValue).sorted()) { $0.string($1) } }
        }
    }
}
