import NIOConcurrencyHelpers
import PostgresNIO

/// The statements PostgreSQL keeps prepared on each connection, so that the hot path's queries
/// are parsed and planned once per connection rather than on every call.
///
/// PostgresNIO prepares a statement by its type (the type's static name and SQL), while the
/// platform's hot texts are built at run time by the repositories' shared SQL. So each hot text
/// takes, the first time it runs, one of a fixed number of types, `Slot<Slot<...<FirstSlot>>>`.
/// A prepared statement fixes the types of its parameters, so a text bound with other types of
/// values (a null where a number was) takes a slot of its own. The table only grows and is the
/// same for every database in the process: a slot's name always means one text. Texts past
/// `capacity` run unprepared.
enum PreparedStatements {
    static let capacity = 128

    struct Key: Hashable {
        let sql: String
        let types: [SQLValue.Kind]
    }

    struct Table {
        var slots: [Key: Int] = [:]
        var texts: [String] = []
    }

    private static let table = NIOLockedValueBox(Table())

    /// The types of the slots, made once: slot n is `types[n]`.
    static let types: [any StatementSlot.Type] = {
        var types: [any StatementSlot.Type] = [FirstSlot.self]
        while types.count < capacity {
            let last = types[types.count - 1]
            types.append(successor(of: last))
        }
        return types
    }()

    private static func successor<Previous: StatementSlot>(of previous: Previous.Type) -> any StatementSlot.Type { Slot<Previous>.self }

    /// The slot of `sql` bound with `binds`, taken now if this is its first run; nil when all are taken.
    static func slot(_ sql: String, _ binds: [SQLValue]) -> (any StatementSlot.Type)? {
        let key = Key(sql: sql, types: binds.map(\.kind))
        let index: Int? = table.withLockedValue { table in
            if let index = table.slots[key] { return index }
            guard table.texts.count < capacity else { return nil }
            table.slots[key] = table.texts.count
            table.texts.append(sql)
            return table.texts.count - 1
        }
        return index.map { types[$0] }
    }

    static func text(_ index: Int) -> String { table.withLockedValue { $0.texts[index] } }
}

protocol StatementSlot: SendableMetatype {
    static var index: Int { get }
}

enum FirstSlot: StatementSlot {
    static var index: Int { 0 }
}

enum Slot<Previous: StatementSlot>: StatementSlot {
    static var index: Int { Previous.index + 1 }
}

/// One run of the text in slot `S`.
struct SlotStatement<S: StatementSlot>: PostgresPreparedStatement {
    static var name: String { "cmc_\(S.index)" }
    static var sql: String { PreparedStatements.text(S.index) }
    typealias Row = PostgresRow

    let bindings: PostgresBindings

    func makeBindings() -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}

extension SQLValue {
    /// What a prepared statement fixes of a value: its type.
    enum Kind: UInt8, Hashable { case null, integer, real, text, bool, blob }

    var kind: Kind {
        switch self {
        case .null: .null
        case .integer: .integer
        case .real: .real
        case .text: .text
        case .bool: .bool
        case .blob: .blob
        }
    }
}
