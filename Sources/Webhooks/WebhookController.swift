import Auth
import CMCCore
import CMCHTTP
import Events
import Foundation
import Hummingbird
import Outbound

/// `/subscriptions`: webhooks. Each receives the events its filter admits among the devices its
/// creator may read, POSTed as JSON with an `X-CMC-Signature: sha256=...` header over the body.
public struct WebhookController: HTTPController {
    let repository: WebhookRepository
    let dispatcher: WebhookDispatcher

    public init(repository: WebhookRepository, dispatcher: WebhookDispatcher) {
        self.repository = repository
        self.dispatcher = dispatcher
    }

    /// Subscriptions acting for one user: each holds a queue and a worker.
    static let maximumPerUser = 50

    public static let endpoints: [Endpoint<Self>] = [
        Endpoint(.post, "/subscriptions", allow: Audience.signedIn, Self.create),
        Endpoint(.get, "/subscriptions", allow: Audience.signedIn, Self.list),
        Endpoint(.get, "/subscriptions/{id}", allow: Audience.signedIn, Self.get),
        Endpoint(.delete, "/subscriptions/{id}", allow: Audience.signedIn, Self.delete),
    ]

    struct Answer: JSONWritable {
        let webhooks: [(Webhook, WebhookDispatcher.Counts)]
        let withSecret: Bool
        let single: Bool

        func write(to writer: inout JSONWriter) {
            if single, let (webhook, counts) = webhooks.first {
                webhook.write(to: &writer, withSecret: withSecret, deliveries: counts)
                return
            }
            writer.object { w in
                w.key("subscriptions")
                w.array(webhooks) { w, item in item.0.write(to: &w, withSecret: false, deliveries: item.1) }
            }
        }

    }

    @Sendable func create(_ request: Request, context: CMCRequestContext) async throws -> Response {
        let caller = try context.requirePrincipal()
        let body = try await request.decodeJSON(as: WebhookRegistration.self)
        if !caller.isPrivileged, let user = caller.actingUserID, try await repository.count(ownedBy: user) >= Self.maximumPerUser {
            throw APIError.conflict("subscriptions: at most \(Self.maximumPerUser) per user; delete one first")
        }
        // Said now rather than at the first delivery; every delivery checks again.
        do {
            try await dispatcher.policy.outbound.check(URL(string: body.url)!)
        } catch let refusal as OutboundRefusal {
            throw APIError.invalid("url", refusal.description)
        }
        let webhook = Webhook(
            id: UUID().uuidString.lowercased(), url: body.url, filter: try body.filter.filter(viewer: .init(caller)),
            secret: RandomToken.make(bytes: 32), createdBy: caller.subject, status: .active, consecutiveFailures: 0,
            lastError: nil, lastFailureAt: nil, createdAt: .now()
        )
        try await repository.insert(webhook)
        dispatcher.add(webhook)
        return .json(Answer(webhooks: [(webhook, .init())], withSecret: true, single: true), status: .created)
    }

    @Sendable func list(_ request: Request, context: CMCRequestContext) async throws -> Response {
        let caller = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        let mine = try await repository.all().filter { caller.isPrivileged || $0.createdBy == caller.subject }
        return .json(Answer(webhooks: mine.map { dispatcher.current(id: $0.id) ?? ($0, .init()) }, withSecret: false, single: false))
    }

    func visible(_ context: CMCRequestContext) async throws -> Webhook {
        let caller = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        guard let webhook = try await repository.find(id: id), caller.isPrivileged || webhook.createdBy == caller.subject else {
            throw APIError.notFound("no subscription \(id)")
        }
        return webhook
    }

    @Sendable func get(_ request: Request, context: CMCRequestContext) async throws -> Response {
        let webhook = try await visible(context)
        return .json(Answer(webhooks: [dispatcher.current(id: webhook.id) ?? (webhook, .init())], withSecret: false, single: true))
    }

    @Sendable func delete(_ request: Request, context: CMCRequestContext) async throws -> HTTPResponse.Status {
        let webhook = try await visible(context)
        try await repository.delete(id: webhook.id)
        dispatcher.remove(id: webhook.id)
        return .noContent
    }
}
