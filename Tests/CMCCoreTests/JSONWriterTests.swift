import CMCCore
import Foundation
import Testing

@Suite("JSON writer")
struct JSONWriterTests {
    /// What `JSONEncoder` writes for a number: the text a client of the Codable form reads.
    static func encoded(_ value: Double) throws -> String {
        String(decoding: try JSONEncoder().encode([value]), as: UTF8.self).dropFirst().dropLast().description
    }

    static func written(_ value: Double, fractionDigits: Int) -> String {
        var writer = JSONWriter()
        writer.number(value, fractionDigits: fractionDigits)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test("a rounded number is written as the encoder writes the rounded value", arguments: [0, 1, 3, 4])
    func roundedLikeEncoder(fractionDigits: Int) throws {
        var random = SplitMix64(seed: 2026)
        let scale = pow(10.0, Double(fractionDigits))
        var values: [Double] = [0, -0.0, 1, 10, 12.5, 0.0004, 0.0005, 0.001, 0.1, 0.999_9, 99.999_5, 1e-7, -3.25, -0.000_4, 4e15 / scale, 3.9e15 / scale, 1e12, 12_345_678.9]
        for _ in 0..<2_000 {
            values.append(Double.random(in: 0..<50_000, using: &random))
            values.append(Double.random(in: -1..<1, using: &random))
            values.append(Double.random(in: -1e-3..<1e-3, using: &random))
            values.append(Double(Int.random(in: 0..<1_000_000, using: &random)) / scale)
        }
        for value in values {
            let text = Self.written(value, fractionDigits: fractionDigits)
            #expect(text == (try Self.encoded(value.rounded(fractionDigits: fractionDigits))), "\(value)")
            let read = try #require(Double(text))
            #expect(abs(read - value) <= 0.5 / scale * (1 + 1e-9) + abs(value) * 1e-15, "\(value) as \(text)")
        }
    }

    @Test("rounding never answers negative zero, and names what it rounds to")
    func roundedValues() {
        #expect(Self.written(-0.0001, fractionDigits: 3) == "0")
        #expect((-0.0001).rounded(fractionDigits: 3).sign == .plus)
        #expect(Self.written(228.274_690_578_055_84, fractionDigits: 3) == "228.275")
        #expect(Self.written(1.0004, fractionDigits: 3) == "1")
        #expect(Self.written(-2.5, fractionDigits: 0) == "-3")
        #expect(Self.written(.infinity, fractionDigits: 3) == "null")
    }
}
