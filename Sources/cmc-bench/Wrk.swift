import ArgumentParser
import Foundation

/// The HTTP ceiling of this machine: Debian's `wrk`, from a process of its own, on one URL.
struct Wrk: Encodable {
    let url: String
    let connections: Int
    let requests: Int
    let errors: Int
    let requestsPerSecond: Double
    let meanMs, p99Ms: Double

    static let path = "/usr/bin/wrk"

    /// One wrk thread, so the server under test keeps the other core of a two-core machine.
    static func measure(_ url: String, connections: Int, seconds: Int = 3, headers: [String] = []) async throws -> Wrk {
        guard Tools.isInstalled(path) else { throw ValidationError("\(path) is missing: apt-get install wrk (make bench installs it)") }
        let arguments = ["-t1", "-c\(max(1, connections))", "-d\(seconds)s", "--latency"] + headers.flatMap { ["-H", $0] } + [url]
        return try parse(try await Tools.output(path, arguments), url: url, connections: connections)
    }

    static func parse(_ report: String, url: String, connections: Int) throws -> Wrk {
        var requests = 0, errors = 0
        var rate = 0.0, mean = 0.0, p99 = 0.0
        for line in report.split(separator: "\n") {
            let words = line.split(whereSeparator: \.isWhitespace)
            guard let first = words.first else { continue }
            switch first {
            case "Requests/sec:": rate = Double(words.last ?? "") ?? 0
            case "Latency" where words.count > 1 && words[1] != "Distribution": mean = milliseconds(words[1])
            case "99%" where words.count > 1: p99 = milliseconds(words[1])
            case "Non-2xx": errors += Int(words.last ?? "") ?? 0
            case "Socket":  // Socket errors: connect 0, read 0, write 0, timeout 0
                errors += words.compactMap { Int($0.trimmingCharacters(in: CharacterSet(charactersIn: ","))) }.reduce(0, +)
            default:
                if words.count > 2, words[1] == "requests", words[2] == "in" { requests = Int(first) ?? 0 }
            }
        }
        guard rate > 0 else { throw ValidationError("wrk printed no rate:\n\(report)") }
        return Wrk(url: url, connections: connections, requests: requests, errors: errors, requestsPerSecond: rate, meanMs: mean, p99Ms: p99)
    }

    /// wrk's durations: "812.00us", "4.20ms", "1.03s", "2.00m".
    static func milliseconds<S: StringProtocol>(_ text: S) -> Double {
        let units: [(String, Double)] = [("us", 0.001), ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            return (Double(text.dropLast(suffix.count)) ?? 0) * factor
        }
        return Double(text) ?? 0
    }
}
