import ServiceLifecycle

/// The database as a part of the platform's one service group. Listed first, it is the last to be
/// asked to stop: by then the HTTP server, the ingests and the deliveries have finished what they
/// took, so nothing is cut off in the middle of a transaction. It then closes.
public struct DatabaseService: Service {
    let database: any Database

    public init(_ database: any Database) { self.database = database }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await database.run() }
            // Returns when the stop reaches this service, or throws when the group is cancelled.
            try? await gracefulShutdown()
            group.cancelAll()
            try await group.waitForAll()
        }
        try await database.close()
    }
}
