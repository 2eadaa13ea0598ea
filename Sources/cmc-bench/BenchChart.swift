import ArgumentParser
import Foundation

/// Response time of the user pattern by concurrent users, one line per device count and backend,
/// as in the CMC-IoT evaluation's figure; drawn as SVG from `cmc-bench pattern --json` files.
struct BenchChart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chart", abstract: "Draw pattern results (JSON) as an SVG chart.")

    @Option(help: "The SVG file to write.") var output = "bench/pattern.svg"
    @Argument(help: "Files written by `cmc-bench pattern --json`.") var inputs: [String]

    struct Point: Decodable {
        struct Run: Decodable { let meanMs: Double; let p99Ms: Double; let failures: Int }
        let backend: String
        let devices: Int
        let users: Int
        let pattern: Run
    }

    func run() async throws {
        var points: [Point] = []
        for input in inputs {
            points += try JSONDecoder().decode([Point].self, from: Data(contentsOf: URL(fileURLWithPath: input)))
        }
        guard !points.isEmpty else { throw ValidationError("no figures in \(inputs.joined(separator: ", "))") }
        try Self.svg(points).write(toFile: output, atomically: true, encoding: .utf8)
        print("chart written to \(output)")
    }

    static func svg(_ points: [Point]) -> String {
        let width = 780.0, height = 440.0, left = 90.0, right = 220.0, top = 40.0, bottom = 60.0
        let users = Set(points.map(\.users)).sorted()
        let values = points.flatMap { [$0.pattern.meanMs, $0.pattern.p99Ms] }.filter { $0 > 0 }
        // Logarithmic on both axes: users grow tenfold, so do response times.
        let low = pow(10, floor(log10(values.min() ?? 1))), high = pow(10, ceil(log10(values.max() ?? 10)))
        let minUsers = Double(users.first!), maxUsers = Double(max(users.last!, users.first! * 10))
        func x(_ u: Int) -> Double { left + (width - left - right) * (log10(Double(u)) - log10(minUsers)) / max(log10(maxUsers) - log10(minUsers), 1e-9) }
        func y(_ ms: Double) -> Double { top + (height - top - bottom) * (1 - (log10(max(ms, low)) - log10(low)) / max(log10(high) - log10(low), 1e-9)) }
        let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="22" font-size="15">CMC user pattern: response time by concurrent users (solid: mean, dashed: p99)</text>

        """
        var decade = low
        while decade <= high * 1.0001 {
            svg += ##"<line x1="\##(left)" x2="\##(width - right)" y1="\##(y(decade))" y2="\##(y(decade))" stroke="#ddd"/>"## + "\n"
            svg += ##"<text x="\##(left - 8)" y="\##(y(decade) + 4)" text-anchor="end">\##(format(decade)) ms</text>"## + "\n"
            decade *= 10
        }
        for u in users {
            svg += ##"<line x1="\##(x(u))" x2="\##(x(u))" y1="\##(top)" y2="\##(height - bottom)" stroke="#eee"/>"## + "\n"
            svg += ##"<text x="\##(x(u))" y="\##(height - bottom + 18)" text-anchor="middle">\##(u)</text>"## + "\n"
        }
        svg += ##"<text x="\##((left + width - right) / 2)" y="\##(height - 15)" text-anchor="middle">concurrent users</text>"## + "\n"

        let series = Dictionary(grouping: points) { "\(grouped($0.devices)) devices, \($0.backend)" }
        let names = series.keys.sorted { (series[$0]![0].devices, $0) < (series[$1]![0].devices, $1) }
        for (index, name) in names.enumerated() {
            let line = series[name]!.sorted { $0.users < $1.users }
            let colour = colours[index % colours.count]
            for (field, dash) in [(\Point.pattern.meanMs, ""), (\Point.pattern.p99Ms, ##" stroke-dasharray="5,4""##)] {
                let path = line.map { "\(x($0.users)),\(y($0[keyPath: field]))" }.joined(separator: " ")
                svg += ##"<polyline points="\##(path)" fill="none" stroke="\##(colour)" stroke-width="2"\##(dash)/>"## + "\n"
            }
            for point in line {
                let mark = point.pattern.failures > 0 ? ##" stroke="black" stroke-width="2""## : ""
                svg += ##"<circle cx="\##(x(point.users))" cy="\##(y(point.pattern.meanMs))" r="4" fill="\##(colour)"\##(mark)><title>\##(name), \##(point.users) users: mean \##(format(point.pattern.meanMs)) ms, p99 \##(format(point.pattern.p99Ms)) ms, \##(point.pattern.failures) failures</title></circle>"## + "\n"
            }
            let ly = top + 20 * Double(index)
            svg += ##"<line x1="\##(width - right + 15)" x2="\##(width - right + 40)" y1="\##(ly)" y2="\##(ly)" stroke="\##(colour)" stroke-width="2"/>"## + "\n"
            svg += ##"<text x="\##(width - right + 46)" y="\##(ly + 4)">\##(name)</text>"## + "\n"
        }
        return svg + "</svg>\n"
    }

    /// 440000 as "440,000".
    static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        return String(digits.enumerated().flatMap { index, digit in (index > 0 && (digits.count - index) % 3 == 0 ? [","] : []) + [digit] })
    }

    static func format(_ value: Double) -> String {
        value >= 10 ? String(format: "%.0f", value) : value >= 1 ? String(format: "%.1f", value) : String(format: "%.2f", value)
    }
}
