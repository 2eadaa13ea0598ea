import CMCCore
import CMCStorage
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The commands table, with the same SQL on SQLite and PostgreSQL, and the requests waiting for
/// a command to reach a final status.
public final class CommandRepository: Sendable {
    let database: any Database
    private let watches = NIOLockedValueBox([String: Watch]())
    static let columns = "id, device_id, name, params, status, result, requested_by, created_at, updated_at, expires_at"

    public init(database: any Database) { self.database = database }

    func insert(_ command: Command) async throws {
        try await database.query(
            "INSERT INTO device_commands (\(Self.columns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            .text(command.id), .text(command.device), .text(command.name), .text(JSONValue.encodeObject(command.params)),
            .text(command.status.rawValue), .optional(command.result.map(Self.text)), .text(command.requestedBy),
            .integer(command.createdAt.microseconds), .integer(command.updatedAt.microseconds), .integer(command.expiresAt.microseconds)
        )
    }

    public func find(id: String) async throws -> Command? {
        try await database.query("SELECT \(Self.columns) FROM device_commands WHERE id = $1", .text(id)).first.map(Self.decode)
    }

    /// Moves a command on, never backwards: a late "delivered" does not undo an ack. With `device`,
    /// only a command for that device moves (an answer names its device in its topic). Returns the
    /// command as it now is, or nil when nothing moved.
    @discardableResult
    public func update(id: String, device: String? = nil, to status: Command.Status, result: JSONValue? = nil) async throws -> Command? {
        let from: [Command.Status] = status == .delivered ? [.pending] : [.pending, .delivered]
        var binds: [SQLValue] = [.text(id), .text(status.rawValue), .optional(result.map(Self.text)), .integer(Timestamp.now().microseconds)]
        if let device { binds.append(.text(device)) }
        let updated = try await database.query(
            "UPDATE device_commands SET status = $2, result = $3, updated_at = $4 WHERE id = $1 AND status IN (\(from.map { "'\($0.rawValue)'" }.joined(separator: ", ")))"
                + (device == nil ? "" : " AND device_id = $5") + " RETURNING \(Self.columns)",
            binds
        ).first.map(Self.decode)
        if status.isFinal, let updated { wake(id, with: updated) }
        return updated
    }

    /// Runs `body` with the command watched: an answer arriving meanwhile is kept for `wait`.
    func watching<Result: Sendable>(_ id: String, _ body: () async throws -> Result) async throws -> Result {
        watches.withLockedValue { $0[id, default: Watch()].watchers += 1 }
        defer {
            watches.withLockedValue {
                $0[id]?.watchers -= 1
                if $0[id]?.watchers == 0 { $0[id] = nil }
            }
        }
        return try await body()
    }

    /// Waits until the command is final or `deadline` passes; `current` spares reading it first.
    func wait(id: String, until deadline: Timestamp, current: Command? = nil) async throws -> Command? {
        // Watching starts before the first read, so an answer landing between that read and the
        // wait below is handed over at once instead of at the next poll.
        try await watching(id) { try await waitWatched(id: id, until: deadline, current: current) }
    }

    private func waitWatched(id: String, until deadline: Timestamp, current: Command?) async throws -> Command? {
        if let final = watches.withLockedValue({ $0[id]?.final }) { return final }
        let initial: Command?
        if let current { initial = current.settled() } else { initial = try await find(id: id)?.settled() }
        guard var command = initial else { return nil }
        while true {
            if let final = watches.withLockedValue({ $0[id]?.final }) { return final }
            let now = Timestamp.now()
            if command.status.isFinal || now >= deadline { return command }
            var poll: Scheduled<Void>?
            await withCheckedContinuation { waiter in
                let final = self.watches.withLockedValue { watches -> Bool in
                    if watches[id]?.final != nil { return true }
                    watches[id]?.waiters.append(waiter)
                    return false
                }
                if final {
                    waiter.resume()
                } else {
                    // Also a poll, set once waiting: an answer recorded by another instance of the
                    // service wakes no one here. A timer on an event loop costs less than a task
                    // sleeping beside each waiting request.
                    let interval = max(0, min(deadline.microseconds - now.microseconds, 250_000))
                    poll = Self.timers.any().scheduleTask(in: .microseconds(interval)) { self.release(id) }
                }
            }
            poll?.cancel()
            try Task.checkCancellation()
            if watches.withLockedValue({ $0[id]?.final }) == nil {
                guard let reread = try await find(id: id)?.settled() else { return nil }
                command = reread
            }
        }
    }

    /// A final status never changes: the command as it ended is kept for the rest of the watch.
    private func wake(_ id: String, with command: Command) {
        let waiters = watches.withLockedValue { watches -> [CheckedContinuation<Void, Never>] in
            guard watches[id] != nil else { return [] }
            watches[id]!.final = command
            defer { watches[id]!.waiters = [] }
            return watches[id]!.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Resumes the waiters of a wait that ended by its poll.
    private func release(_ id: String) {
        let waiters = watches.withLockedValue { watches -> [CheckedContinuation<Void, Never>] in
            defer { watches[id]?.waiters = [] }
            return watches[id]?.waiters ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    private static let timers = MultiThreadedEventLoopGroup.singleton

    private struct Watch {
        var watchers = 0
        var final: Command?
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    static func text(_ value: JSONValue) -> String {
        let data: Data = (try? JSONCoding.encoder.encode(value)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func decode(_ row: SQLRow) throws -> Command {
        guard let status = Command.Status(rawValue: try row.string("status")) else { throw StorageError.unexpectedValue(column: "status", row["status"]) }
        return Command(
            id: try row.string("id"), device: try row.string("device_id"), name: try row.string("name"),
            params: JSONValue.decodeObject(try row.string("params")), status: status,
            result: row.optionalString("result").flatMap { try? JSONValue(parsing: $0) },
            requestedBy: try row.string("requested_by"),
            createdAt: Timestamp(microseconds: try row.int("created_at")), updatedAt: Timestamp(microseconds: try row.int("updated_at")),
            expiresAt: Timestamp(microseconds: try row.int("expires_at"))
        )
    }
}

import Foundation
