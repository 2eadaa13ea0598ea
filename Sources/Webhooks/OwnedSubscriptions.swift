import Auth
import CMCCore

/// A deleted user's subscriptions, and those of the user's applications, stop delivering.
public struct OwnedSubscriptions: AccountDependents {
    let repository: WebhookRepository
    let dispatcher: WebhookDispatcher

    public init(repository: WebhookRepository, dispatcher: WebhookDispatcher) {
        self.repository = repository
        self.dispatcher = dispatcher
    }

    public func removeAll(ownedBy userID: String) async throws {
        for id in try await repository.deleteAll(ownedBy: userID) { dispatcher.remove(id: id) }
    }
}
