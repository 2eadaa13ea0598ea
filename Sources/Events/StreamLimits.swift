import NIOConcurrencyHelpers

/// How many event streams the platform keeps open, in all and per client address: each holds a
/// connection and a buffer, so their number is bounded like everything else.
public final class StreamLimits: Sendable {
    public let total: Int
    public let perAddress: Int
    private let open = NIOLockedValueBox((total: 0, byAddress: [String: Int]()))

    public init(total: Int = 4096, perAddress: Int = 32) {
        self.total = total
        self.perAddress = perAddress
    }

    /// Counts a new stream from `address`, unless a limit is reached.
    func admit(_ address: String) -> Bool {
        open.withLockedValue { open in
            guard open.total < total, open.byAddress[address, default: 0] < perAddress else { return false }
            open.total += 1
            open.byAddress[address, default: 0] += 1
            return true
        }
    }

    func release(_ address: String) {
        open.withLockedValue { open in
            open.total -= 1
            let left = open.byAddress[address, default: 1] - 1
            open.byAddress[address] = left > 0 ? left : nil
        }
    }

    public var count: Int { open.withLockedValue { $0.total } }
}
