import ArgumentParser
import Foundation
import Platform

/// `cmc-bench`: the published evaluations' workloads against the platform, beside this machine's
/// ceilings measured in the same run. Apart from `cmc`, so the product holds no benchmark code.
@main
struct CMCBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cmc-bench",
        abstract: "Benchmarks that print figures.",
        subcommands: [GeoBench.self, PatternBench.self, CommandsBench.self, IngestBench.self, BenchChart.self, UserLoad.self]
    )

    static func main() async {
        CommandEnvironment.raiseOpenFileLimit()
        // The library's own parse-and-run, once the limit is raised.
        await main(nil)
    }
}
