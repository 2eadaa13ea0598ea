/// What another service keeps for a user and removes with the account: a deleted user's
/// applications stop signing in and their subscriptions stop delivering.
public protocol AccountDependents: Sendable {
    /// Removes everything `userID` owns in this service; called before the account is deleted.
    func removeAll(ownedBy userID: String) async throws
}
