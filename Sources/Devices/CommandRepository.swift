import CMCCore
import NIOConcurrencyHelpers

/// The commands table, with the same SQL on SQLite and PostgreSQL, and the requests waiting for
/// a command to reach a final status.
public final class CommandRepository: Sendable {
    let database: any Database
    private let waiters = NIOLockedValueBox([String: [CheckedContinuation<Void, Never>]]())
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

    /// Moves a command on, never backwards: a late "delivered" does not undo an ack.
    public func update(id: String, to status: Command.Status, result: JSONValue? = nil) async throws {
        let from: [Command.Status] = status == .delivered ? [.pending] : [.pending, .delivered]
        try await database.query(
            "UPDATE device_commands SET status = $2, result = $3, updated_at = $4 WHERE id = $1 AND status IN (\(from.map { "'\($0.rawValue)'" }.joined(separator: ", ")))",
            .text(id), .text(status.rawValue), .optional(result.map(Self.text)), .integer(Timestamp.now().microseconds)
        )
        if status.isFinal { wake(id) }
    }

    /// Waits until the command is final or `deadline` passes.
    func wait(id: String, until deadline: Timestamp) async throws -> Command? {
        while true {
            guard let command = try await find(id: id)?.settled() else { return nil }
            let now = Timestamp.now()
            if command.status.isFinal || now >= deadline { return command }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await withCheckedContinuation { waiter in self.waiters.withLockedValue { $0[id, default: []].append(waiter) } }
                }
                group.addTask {
                    // Also a poll: an answer landing between the read above and the wait is not missed for long.
                    try? await Task.sleep(for: .microseconds(min(deadline.microseconds - now.microseconds, 250_000)))
                }
                await group.next()
                group.cancelAll()
                self.wake(id)
            }
        }
    }

    private func wake(_ id: String) {
        for waiter in waiters.withLockedValue({ $0.removeValue(forKey: id) ?? [] }) { waiter.resume() }
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
            result: row.optionalString("result").flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) },
            requestedBy: try row.string("requested_by"),
            createdAt: Timestamp(microseconds: try row.int("created_at")), updatedAt: Timestamp(microseconds: try row.int("updated_at")),
            expiresAt: Timestamp(microseconds: try row.int("expires_at"))
        )
    }
}

import Foundation
