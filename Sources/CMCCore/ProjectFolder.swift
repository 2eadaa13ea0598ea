import Foundation

/// Folders of the project the binary runs with (`migrations`, `connectors`, `portal`): in the
/// working directory, or beside the executable (or up to five levels above it, as in `.build/release`).
public enum ProjectFolder {
    public static func candidates(_ name: String) -> [URL] {
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(name)]
        var executable = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(executable.appendingPathComponent(name))
            executable.deleteLastPathComponent()
        }
        return candidates
    }

    /// The first candidate that exists (and holds `marker`, when given).
    public static func locate(_ name: String, holding marker: String? = nil) -> URL? {
        candidates(name).first { folder in
            FileManager.default.fileExists(atPath: marker.map { folder.appendingPathComponent($0).path } ?? folder.path)
        }
    }
}
