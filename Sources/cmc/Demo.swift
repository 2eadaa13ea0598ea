import ArgumentParser
import DemoCity
import Foundation

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The demo city of Cagliari: its static files and the publisher of its live feeds.",
        subcommands: [Feeds.self, Generate.self])

    struct Feeds: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish the demo city's feeds over HTTP (GTFS-Realtime, DATEX II, GBFS), changing every minute.")
        @Option var host = "127.0.0.1"
        @Option var port = 8090

        func run() async throws {
            print("demo city feeds on http://\(host):\(port)/ (connectors/cagliari-*.json read them)")
            try await DemoFeedServer().run(host: host, port: port)
        }
    }

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the demo city's static files (GTFS, DATEX II site tables).")
        @Option(help: "Folder to write into.") var output = "connectors/demo/cagliari"

        func run() throws {
            let folder = URL(fileURLWithPath: output)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (name, data) in try DemoDocuments().staticFiles().sorted(by: { $0.key < $1.key }) {
                try data.write(to: folder.appendingPathComponent(name))
                print("\(folder.appendingPathComponent(name).path): \(data.count) bytes")
            }
        }
    }
}
