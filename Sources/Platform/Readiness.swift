import NIOConcurrencyHelpers
import ServiceLifecycle

/// Whether this process can do its work: its database answers and, where it uses one, its broker
/// is connected. Probed once a second in the background, so `/health` answers from memory
/// however often a load balancer asks; a probe that hangs counts as failing once its last success
/// is `staleAfter` old.
public final class Readiness: Service, Sendable {
    public struct Check: Sendable {
        let name: String
        let probe: @Sendable () async -> Bool

        /// `name` says what is missing ("the database", "the broker").
        public init(_ name: String, probe: @escaping @Sendable () async -> Bool) {
            self.name = name
            self.probe = probe
        }
    }

    let checks: [Check]
    let interval: Duration
    let staleAfter: Duration
    private let lastSuccess = NIOLockedValueBox<[String: ContinuousClock.Instant]>([:])

    public init(checks: [Check], interval: Duration = .seconds(1), staleAfter: Duration = .seconds(3)) {
        self.checks = checks
        self.interval = interval
        self.staleAfter = staleAfter
    }

    /// What is not reachable now, by name; empty when ready.
    public var problems: [String] {
        let now = ContinuousClock.now
        let successes = lastSuccess.withLockedValue { $0 }
        return checks.map(\.name).filter { name in successes[name].map { now - $0 > staleAfter } ?? true }
    }

    /// Runs every probe once.
    public func probe() async {
        await withDiscardingTaskGroup { group in
            for check in checks { group.addTask { await self.probe(check) } }
        }
    }

    private func probe(_ check: Check) async {
        if await check.probe() { lastSuccess.withLockedValue { $0[check.name] = .now } }
    }

    /// Each check on its own round, so one that hangs (a database that does not answer) holds up
    /// no other.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for check in self.checks {
                    group.addTask {
                        while !Task.isCancelled {
                            await self.probe(check)
                            try? await Task.sleep(for: self.interval)
                        }
                    }
                }
            }
        }
    }
}
