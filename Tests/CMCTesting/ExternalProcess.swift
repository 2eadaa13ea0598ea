import Foundation

/// A tool run by a test (mosquitto_pub, coap-client, the cmc binary), waited for without holding
/// a thread of the cooperative pool: the platform under test needs those threads to answer it.
/// Output is read once the process has exited, so it must stay under a pipe's 64 KiB.
public final class ExternalProcess: @unchecked Sendable {
    public struct Outcome: Sendable {
        public let status: Int32
        public let output: String
    }

    let process = Process()
    private let outcome: AsyncStream<Outcome>

    /// Starts the process; `finished()` waits for it.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil, directory: URL? = nil,
                input: Data? = nil, captureErrors: Bool = true) throws {
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = captureErrors ? output : FileHandle.nullDevice
        let stdin = input.map { _ in Pipe() }
        if let stdin { process.standardInput = stdin }
        let (stream, continuation) = AsyncStream<Outcome>.makeStream()
        outcome = stream
        process.terminationHandler = { process in
            let data = output.fileHandleForReading.readDataToEndOfFile()
            continuation.yield(Outcome(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self)))
            continuation.finish()
        }
        try process.run()
        if let stdin, let input {
            stdin.fileHandleForWriting.write(input)
            try stdin.fileHandleForWriting.close()
        }
    }

    public convenience init(_ path: String, _ arguments: [String], input: Data? = nil, captureErrors: Bool = true) throws {
        try self.init(URL(fileURLWithPath: path), arguments, input: input, captureErrors: captureErrors)
    }

    public func finished() async -> Outcome {
        for await outcome in outcome { return outcome }
        return Outcome(status: -1, output: "")
    }

    public func terminate() { if process.isRunning { process.terminate() } }

    /// Runs to the end.
    public static func run(_ path: String, _ arguments: [String], input: Data? = nil) async throws -> Outcome {
        try await ExternalProcess(path, arguments, input: input).finished()
    }
}
