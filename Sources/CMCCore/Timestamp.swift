import Foundation
// `timespec` is seen through whichever of these C modules the compiler met first.
#if canImport(Glibc)
import Glibc
#endif
#if canImport(CDispatch)
import CDispatch
#endif

/// A point in time in microseconds since 1970, the unit readings are stored and keyed in.
/// Encoded in JSON as RFC 3339 in UTC with microseconds, e.g. `2026-11-22T10:00:00.000000Z`.
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }

    public init(seconds: Double) { self.microseconds = Int64((seconds * 1_000_000).rounded()) }

    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(microseconds: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    public func adding(seconds: Int64) -> Timestamp { Timestamp(microseconds: microseconds + seconds * 1_000_000) }

    public var secondsSince1970: Int64 { microseconds.floorDiv(1_000_000) }

    /// Accepts RFC 3339 (any offset, up to nanosecond digits) or plain seconds since 1970.
    public init?(parsing text: String) {
        if Self.isSecondsText(text), let seconds = Double(text) {
            self.init(seconds: seconds)
            return
        }
        guard let value = RFC3339.parse(Array(text.utf8)) else { return nil }
        self.init(microseconds: value)
    }

    /// Seconds since 1970 as text: an optional sign, 1 to 11 digits (under 1e11 seconds, the
    /// year 5138) and optionally a fraction: `^[+-]?[0-9]{1,11}(\.[0-9]+)?$`, as the API
    /// document says. Not every text `Double` reads (`1e9`, `.5`, `0x10`, `inf`).
    static func isSecondsText(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        let whole = bytes.prefix(while: isDigit)
        guard (1...11).contains(whole.count) else { return false }
        let rest = bytes.dropFirst(whole.count)
        guard let dot = rest.first else { return true }
        let fraction = rest.dropFirst()
        return dot == UInt8(ascii: ".") && !fraction.isEmpty && fraction.allSatisfy(isDigit)
    }

    public var description: String { RFC3339.format(microseconds) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let seconds = try? container.decode(Double.self) {
            guard seconds.isFinite, abs(seconds) < 1e11 else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be a time: seconds since 1970 out of range")
            }
            self.init(seconds: seconds)
            return
        }
        let text = try container.decode(String.self)
        guard let value = Timestamp(parsing: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Int64 {
    /// Division rounding toward negative infinity, for times before 1970.
    public func floorDiv(_ divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}

/// Howard Hinnant's civil-date algorithms: exact for every proleptic Gregorian date, no calendar objects.
public enum CivilDate {
    public static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    public static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }

}

enum RFC3339 {
    static func daysFromCivil(_ y: Int64, _ m: Int64, _ d: Int64) -> Int64 { CivilDate.daysFromCivil(y, m, d) }
    static func civilFromDays(_ z: Int64) -> (Int64, Int64, Int64) { CivilDate.civilFromDays(z) }

    static func parse(_ s: [UInt8]) -> Int64? {
        var i = 0
        func digits(_ n: Int) -> Int64? {
            guard i + n <= s.count else { return nil }
            var v: Int64 = 0
            for _ in 0..<n {
                let c = s[i]
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
                i += 1
            }
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < s.count, s[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")), let day = digits(2) else { return nil }
        guard i < s.count, s[i] == UInt8(ascii: "T") || s[i] == UInt8(ascii: "t") || s[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let hour = digits(2), expect(UInt8(ascii: ":")), let minute = digits(2), expect(UInt8(ascii: ":")), let second = digits(2) else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var micros: Int64 = 0
        if i < s.count, s[i] == UInt8(ascii: ".") {
            i += 1
            var count = 0
            while i < s.count, s[i] >= 48, s[i] <= 57 {
                if count < 6 { micros = micros * 10 + Int64(s[i] - 48) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in min(count, 6)..<6 { micros *= 10 }
        }
        var offset: Int64 = 0
        guard i < s.count else { return nil }
        if s[i] == UInt8(ascii: "Z") || s[i] == UInt8(ascii: "z") {
            i += 1
        } else if s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
            let sign: Int64 = s[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = digits(2), expect(UInt8(ascii: ":")), let om = digits(2), oh < 24, om < 60 else { return nil }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == s.count else { return nil }
        let days = daysFromCivil(year, month, day)
        guard civilFromDays(days) == (year, month, day) else { return nil }
        let seconds = days * 86400 + hour * 3600 + minute * 60 + min(second, 59) - offset
        return seconds * 1_000_000 + micros
    }

    /// Written into one buffer: a list of a hundred devices prints two hundred of these.
    static func format(_ micros: Int64) -> String {
        let text = String(unsafeUninitializedCapacity: fixedLength) { buffer in write(micros, into: buffer) ?? 0 }
        return text.isEmpty ? formatOutsideFourDigitYears(micros) : text
    }

    /// Year, month, day, second of the day and microseconds of a time in UTC.
    private static func civil(_ micros: Int64) -> (year: Int64, month: Int64, day: Int64, secondOfDay: Int64, fraction: Int64) {
        let seconds = micros.floorDiv(1_000_000)
        let days = seconds.floorDiv(86400)
        let (y, m, d) = civilFromDays(days)
        return (y, m, d, seconds - days * 86400, micros - seconds * 1_000_000)
    }

    /// `YYYY-MM-DDThh:mm:ss.ffffffZ`, the form of every year from 0 to 9999.
    static let fixedLength = 27

    /// Writes the `fixedLength` bytes of a time in a four-digit year and answers their count;
    /// nil for other years, whose form is longer.
    static func write(_ micros: Int64, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int? {
        let (y, m, d, secOfDay, fraction) = civil(micros)
        guard (0...9999).contains(y) else { return nil }
        var i = 0
        func digits(_ value: Int64, _ count: Int) {
            var value = value
            for k in stride(from: count - 1, through: 0, by: -1) {
                buffer[i + k] = UInt8(48 + value % 10)
                value /= 10
            }
            i += count
        }
        func mark(_ c: Unicode.Scalar) {
            buffer[i] = UInt8(ascii: c)
            i += 1
        }
        digits(y, 4); mark("-"); digits(m, 2); mark("-"); digits(d, 2); mark("T")
        digits(secOfDay / 3600, 2); mark(":"); digits(secOfDay / 60 % 60, 2); mark(":"); digits(secOfDay % 60, 2)
        mark("."); digits(fraction, 6); mark("Z")
        return i
    }

    private static func formatOutsideFourDigitYears(_ micros: Int64) -> String {
        let (y, m, d, secOfDay, fraction) = civil(micros)
        func pad(_ v: Int64, _ n: Int) -> String {
            let s = String(v)
            return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secOfDay / 3600, 2)):\(pad(secOfDay / 60 % 60, 2)):\(pad(secOfDay % 60, 2)).\(pad(fraction, 6))Z"
    }
}
