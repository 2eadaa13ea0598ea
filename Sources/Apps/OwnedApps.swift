import Auth
import CMCCore

/// A deleted user's applications go with the account.
public struct OwnedApps: AccountDependents {
    let repository: any AppRepository

    public init(repository: any AppRepository) { self.repository = repository }

    public func removeAll(ownedBy userID: String) async throws {
        try await repository.deleteAll(ownerID: userID)
    }
}
