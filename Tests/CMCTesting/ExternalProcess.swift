#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOConcurrencyHelpers

/// A tool run by a test (mosquitto_pub, coap-client, python, the cmc binary), waited for without
/// holding a thread of the cooperative pool: the platform under test needs those threads.
///
/// Spawned with `posix_spawn` and waited for by a thread of its own (`waitpid`, then the output to
/// its end), every descriptor closed when done. Foundation's `Process` is not used: it learns of a
/// child's exit through a `select()` loop, which stops working once the test process holds more
/// than 1,024 descriptors — as a test run on both backends with many platforms at once does — and
/// then no process is ever seen to end.
public final class ExternalProcess: @unchecked Sendable {
    public struct Outcome: Sendable {
        public let status: Int32
        public let output: String
    }

    public let pid: pid_t
    private let outcome: AsyncStream<Outcome>
    private let ended = NIOLockedValueBox(false)

    /// Starts the process; `finished()` waits for it. Output is standard output (and standard
    /// error unless `captureErrors` is false), read until the process and its children close it.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil, directory: URL? = nil,
                input: Data? = nil, captureErrors: Bool = true) throws {
        var output: [Int32] = [0, 0], stdin: [Int32] = [0, 0]
        guard pipe(&output) == 0 else { throw TestFailure("pipe: \(errno)") }
        if input != nil { guard pipe(&stdin) == 0 else { throw TestFailure("pipe: \(errno)") } }
        for fd in output + (input != nil ? stdin : []) { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        if captureErrors {
            posix_spawn_file_actions_adddup2(&actions, output[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, stdin[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        // Only 0, 1 and 2 reach the child: the test process's sockets (database connections among
        // them) would otherwise outlive it in any child still running.
        try Self.closeFrom(&actions, 3)
        // A working folder through coreutils' env, which changes to it and executes the tool.
        let program = directory == nil ? executable.path : "/usr/bin/env"
        let argv = directory.map { ["/usr/bin/env", "--chdir=\($0.path)", executable.path] + arguments } ?? ([executable.path] + arguments)
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        defer {
            for pointer in cArgs { free(pointer) }
            for pointer in cEnv { free(pointer) }
        }
        // Signals as a shell would give them: the test process ignores or blocks some (SIGTERM and
        // SIGINT for the platform's graceful stop), and a child would inherit that.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var everySignal = sigset_t(), none = sigset_t()
        sigfillset(&everySignal)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var child: pid_t = 0
        let spawned = posix_spawn(&child, program, &actions, &attributes, &cArgs, &cEnv)
        close(output[1])
        if input != nil { close(stdin[0]) }
        guard spawned == 0 else {
            close(output[0])
            if input != nil { close(stdin[1]) }
            throw TestFailure("cannot start \(executable.path): \(String(cString: strerror(spawned)))")
        }
        pid = child

        let (stream, continuation) = AsyncStream<Outcome>.makeStream()
        outcome = stream
        let reader = output[0]
        let ended = self.ended
        let spawnedChild = child
        Thread.detachNewThread {
            var data = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(reader, &buffer, buffer.count)
                if count > 0 { data.append(contentsOf: buffer[0..<count]) } else if count == 0 || errno != EINTR { break }
            }
            close(reader)
            var status: Int32 = 0
            while waitpid(spawnedChild, &status, 0) == -1 && errno == EINTR {}
            ended.withLockedValue { $0 = true }
            // Exit code, or 128 + the signal that ended it, as a shell reports it.
            let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            continuation.yield(Outcome(status: code, output: String(decoding: data, as: UTF8.self)))
            continuation.finish()
        }
        if let input {
            let writer = stdin[1]
            input.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(writer, bytes.baseAddress! + offset, bytes.count - offset)
                    if written <= 0 { if errno == EINTR { continue } else { break } }
                    offset += written
                }
            }
            close(writer)
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34), which Swift's Glibc module does not show.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    private static func closeFrom(_ actions: inout posix_spawn_file_actions_t, _ first: Int32) throws {
        guard let addCloseFrom = Self.addCloseFrom, addCloseFrom(&actions, first) == 0 else {
            throw TestFailure("posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or later)")
        }
    }

    public convenience init(_ path: String, _ arguments: [String], input: Data? = nil, captureErrors: Bool = true) throws {
        try self.init(URL(fileURLWithPath: path), arguments, input: input, captureErrors: captureErrors)
    }

    public func finished() async -> Outcome {
        for await outcome in outcome { return outcome }
        return Outcome(status: -1, output: "")
    }

    /// SIGTERM, unless it has ended already.
    public func terminate() { send(SIGTERM) }

    /// Any signal (SIGKILL for a crash), unless it has ended already.
    public func send(_ signal: Int32) { if !ended.withLockedValue({ $0 }) { kill(pid, signal) } }

    /// Runs to the end.
    public static func run(_ path: String, _ arguments: [String], input: Data? = nil) async throws -> Outcome {
        try await ExternalProcess(path, arguments, input: input).finished()
    }
}
