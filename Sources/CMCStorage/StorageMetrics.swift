import Metrics

/// Times each statement by backend and verb (`select`, `insert`, ...), for `/metrics`.
enum StorageMetrics {
    static func measure<Result>(_ dialect: SQLDialect, _ sql: String, _ body: () async throws -> Result) async rethrows -> Result {
        let start = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - start
            let nanos = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
            Timer(label: "cmc_storage_query", dimensions: [("backend", dialect.rawValue), ("statement", verb(sql))])
                .recordNanoseconds(nanos)
        }
        return try await body()
    }

    static func verb(_ sql: String) -> String {
        let word = sql.prefix { !$0.isWhitespace && $0 != "(" }.lowercased()
        switch word {
        case "select", "insert", "update", "delete", "with", "create", "begin", "commit", "rollback": return word
        default: return "other"
        }
    }
}
