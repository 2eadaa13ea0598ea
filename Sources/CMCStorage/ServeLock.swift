import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One serving process per SQLite file: that process keeps the devices' positions in memory and
/// follows only its own writes, so a second server on the same file would answer from a stale
/// map. Held for the life of the server on `<file>-serve.lock` (which names its process) and
/// released by the kernel however the process ends.
public final class ServeLock: Sendable {
    public let path: String
    private let descriptor: Int32

    public struct Held: Error, CustomStringConvertible {
        public let database: String
        public let holder: String
        public var description: String {
            "another cmc serve (\(holder)) is already serving \(database): one server per SQLite file; run several on PostgreSQL"
        }
    }

    public init(database: String) throws {
        path = database + "-serve.lock"
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            throw Held(database: database, holder: holder.map { $0.isEmpty ? "pid unknown" : $0 } ?? "pid unknown")
        }
        let note = Array("pid \(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = note.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(descriptor) }
}
