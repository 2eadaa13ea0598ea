import CMCCore
import Foundation
import Hummingbird

/// Typed access to query parameters; each failure names the parameter.
public struct QueryParameters: Sendable {
    let values: [String: String]

    public init(_ request: Request, allowed: Set<String>) throws {
        var values: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard allowed.contains(name) else {
                throw APIError.invalid(name, "unknown query parameter; expected one of \(allowed.sorted().joined(separator: ", "))")
            }
            values[name] = String(value)
        }
        self.values = values
    }

    public func string(_ name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    public func int(_ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let raw = string(name) else { return nil }
        guard let value = Int(raw), range.contains(value) else {
            throw APIError.invalid(name, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    public func double(_ name: String) throws -> Double? {
        guard let raw = string(name) else { return nil }
        guard let value = Double(raw), value.isFinite else { throw APIError.invalid(name, "must be a number") }
        return value
    }

    public func bool(_ name: String) throws -> Bool? {
        guard let raw = string(name) else { return nil }
        switch raw {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError.invalid(name, "must be true or false")
        }
    }

    public func timestamp(_ name: String) throws -> Timestamp? {
        guard let raw = string(name) else { return nil }
        guard let value = Timestamp(parsing: raw) else {
            throw APIError.invalid(name, "must be an RFC 3339 time such as 2026-01-31T12:00:00Z, or seconds since 1970")
        }
        return value
    }
}
