import ArgumentParser
import Foundation

/// External tools, waited for without holding a thread of the cooperative pool.
enum Tools {
    static func run(_ path: String, _ arguments: [String], input: Data?) async throws {
        _ = try await launch(path, arguments, input: input, capture: false)
    }

    /// What the tool printed on its standard output.
    static func output(_ path: String, _ arguments: [String]) async throws -> String {
        String(decoding: try await launch(path, arguments, input: nil, capture: true), as: UTF8.self)
    }

    static func isInstalled(_ path: String) -> Bool { FileManager.default.isExecutableFile(atPath: path) }

    private static func launch(_ path: String, _ arguments: [String], input: Data?, capture: Bool) async throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = capture ? Pipe() : nil
        process.standardOutput = output ?? FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let pipe = input.map { _ in Pipe() }
        if let pipe { process.standardInput = pipe }
        // Read on a thread of its own, not one of the few the servers under test run on; a full
        // pipe would stop the tool before it exits.
        let collected = output.map { output in
            Task {
                await withCheckedContinuation { (done: CheckedContinuation<Data, Never>) in
                    Thread.detachNewThread { done.resume(returning: output.fileHandleForReading.readDataToEndOfFile()) }
                }
            }
        }
        let status: Int32 = try await withCheckedThrowingContinuation { done in
            process.terminationHandler = { done.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { done.resume(throwing: error) }
            if let pipe, let input {
                pipe.fileHandleForWriting.write(input)
                try? pipe.fileHandleForWriting.close()
            }
        }
        let data = await collected?.value ?? Data()
        guard status == 0 else { throw ValidationError("\(path) exited with \(status)") }
        return data
    }
}
