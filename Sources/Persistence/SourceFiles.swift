import CMCCore
import Foundation

/// The source declarations in `connectors/`: one JSON file per source.
public enum SourceFiles {
    public static func load(directory: URL) throws -> [Source] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var sources: [Source] = []
        for name in names.sorted() where name.hasSuffix(".json") {
            let file = directory.appendingPathComponent(name)
            do {
                let source = try JSONDecoder().decode(Source.self, from: Data(contentsOf: file)).validated()
                guard !sources.contains(where: { $0.id == source.id }) else { throw APIError.invalid("id", "\(source.id) is declared twice") }
                sources.append(source)
            } catch let error as DecodingError {
                throw SourceFileError(file: name, message: APIError(decoding: error).message)
            } catch let error as APIError {
                throw SourceFileError(file: name, message: error.message)
            }
        }
        return sources
    }

    /// Finds `connectors/` from `CMC_CONNECTORS_DIR`, the working directory, or beside the executable.
    public static func locateDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let configured = environment["CMC_CONNECTORS_DIR"] { return URL(fileURLWithPath: configured) }
        return ProjectFolder.locate("connectors")
    }
}

public struct SourceFileError: Error, CustomStringConvertible {
    public let file: String
    public let message: String

    public var description: String { "connectors/\(file): \(message)" }
}
