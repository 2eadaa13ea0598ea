import ArgumentParser
import Foundation

/// Debian's `siege`, whose report has the fields of the intercom paper's table.
enum Siege {
    static let path = "/usr/bin/siege"

    static func run(users: Int, repetitions: Int, token: String, url: String, body: String) async throws -> CommandsBench.Round {
        // A configuration of its own: siege's default one (~/.siege) may log, parse HTML or cap users at 255.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cmc-siege-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let rc = directory.appendingPathComponent("siegerc")
        try """
        verbose = false
        quiet = true
        json_output = true
        show-logfile = false
        logging = false
        parser = false
        protocol = HTTP/1.1
        connection = keep-alive
        timeout = 30
        failures = 1000000
        limit = \(max(users, 255))
        benchmark = true

        """.write(to: rc, atomically: true, encoding: .utf8)
        let arguments = ["-R", rc.path, "-c", "\(users)", "-r", "\(repetitions)", "-b", "-j", "--no-parser",
                         "-H", "Authorization: Bearer \(token)", "-T", "application/json", "\(url) POST \(body)"]
        let report = try await Tools.output(path, arguments)
        return try parse(report, users: users)
    }

    static func parse(_ report: String, users: Int) throws -> CommandsBench.Round {
        // The JSON object is the last thing siege prints.
        guard let open = report.firstIndex(of: "{"),
              let figures = try JSONSerialization.jsonObject(with: Data(report[open...].utf8)) as? [String: Any] else {
            throw ValidationError("siege printed no figures:\n\(report)")
        }
        func number(_ key: String) -> Double { (figures[key] as? NSNumber)?.doubleValue ?? 0 }
        let transactions = Int(number("transactions")), failed = Int(number("failed_transactions"))
        return CommandsBench.Round(
            tool: "siege", n: users, x: transactions + failed, y: failed, successRate: number("availability"),
            AT: number("response_time"), SD: nil, E: number("elapsed_time"), D: number("data_transferred"),
            TR: number("transaction_rate"), TP: number("throughput"), LT: number("longest_transaction"), ST: number("shortest_transaction")
        )
    }
}
