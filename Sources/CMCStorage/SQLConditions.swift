/// Builds a WHERE clause from the filters a request actually has, numbering placeholders as it goes,
/// so each query keeps its indexes usable (no `$1 IS NULL OR ...` catch-alls).
public struct SQLConditions: Sendable {
    public private(set) var clauses: [String] = []
    public private(set) var binds: [SQLValue] = []

    public init(binds: [SQLValue] = []) { self.binds = binds }

    /// Adds a bound value and returns its placeholder.
    public mutating func bind(_ value: SQLValue) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    public mutating func add(_ clause: String) { clauses.append(clause) }

    public mutating func add(_ column: String, _ op: String, _ value: SQLValue) {
        clauses.append("\(column) \(op) \(bind(value))")
    }

    public mutating func add(_ column: String, in values: [SQLValue]) {
        if values.isEmpty {
            clauses.append("1 = 0")
        } else {
            clauses.append("\(column) IN (\(values.map { bind($0) }.joined(separator: ", ")))")
        }
    }

    public var whereClause: String { clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ") }
}
