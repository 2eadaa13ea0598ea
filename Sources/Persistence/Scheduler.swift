import CMCCore
import Devices
import Events
import Feeds
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import Outbound
import ServiceLifecycle

/// Runs every source on its interval (with jitter), each run in a task of its own with a time
/// limit, backing off exponentially while a source fails. A slow or broken source never delays
/// the others. Operators add, change, pause, remove and run sources while it runs.
public final class PersistenceScheduler: Service, DeviceIDReservations, Sendable {
    struct Entry: Sendable {
        var record: SourceRecord
        var nextRun: ContinuousClock.Instant?
        var running = false
        var memory = SourceReader.Memory()
        /// Bumped when the configuration changes, so a run of the old one does not overwrite it.
        var generation = 0
    }

    let repository: SourceRepository
    let importer: FeedImport
    public let timetables: Timetables
    let reader: SourceReader
    let logger: Logger
    private let entries: NIOLockedValueBox<[String: Entry]>
    private let wakeup = Wakeup()
    /// The sources as their files in `connectors/` declare them: trusted to read files and any
    /// address. A source added or changed over the API is fetched under the outbound policy.
    private let declared = NIOLockedValueBox([String: Source]())

    public init(repository: SourceRepository, importer: FeedImport, timetables: Timetables = Timetables(), fetcher: FeedFetcher = FeedFetcher(),
                connectorsDirectory: URL?, environment: [String: String] = ProcessInfo.processInfo.environment,
                outbound: OutboundPolicy = OutboundPolicy(), logger: Logger) {
        let entries = NIOLockedValueBox([String: Entry]())
        self.entries = entries
        self.repository = repository
        self.importer = importer
        self.timetables = timetables
        self.logger = logger
        reader = SourceReader(fetcher: fetcher, timetables: timetables, connectorsDirectory: connectorsDirectory, environment: environment, outbound: outbound,
                              prefixOf: { id in entries.withLockedValue { $0[id]?.record.source.devicePrefix } })
    }

    /// Whether `source` is as its file declares it (pausing aside).
    public func isDeclared(_ source: Source) -> Bool {
        guard var declaration = declared.withLockedValue({ $0[source.id] }) else { return false }
        declaration.paused = source.paused
        return declaration == source
    }

    /// The source whose prefix `id` is under: its devices are the source's to register.
    public func reservation(of id: String) -> String? {
        entries.withLockedValue { entries in
            entries.first { id.hasPrefix($0.value.record.source.devicePrefix + ":") }?.key
        }
    }

    /// Reads the sources from storage; every active one is due at once.
    public func load() async throws {
        let records = try await repository.all()
        let now = ContinuousClock.now
        entries.withLockedValue { entries in
            for (index, record) in records.enumerated() {
                // A few milliseconds apart, so a restart does not fetch every feed at the same instant.
                entries[record.source.id] = Entry(record: record, nextRun: record.source.paused ? nil : now + .milliseconds(20 * index))
            }
        }
    }

    public func run() async throws {
        let stopping = NIOLockedValueBox(false)
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                while !Task.isCancelled && !stopping.withLockedValue({ $0 }) {
                    for id in self.takeDue() { group.addTask { _ = await self.execute(id) } }
                    await self.wakeup.wait(until: self.nextDeadline())
                }
            } onGracefulShutdown: {
                stopping.withLockedValue { $0 = true }
                self.wakeup.signal()
            }
            // Runs in flight end here; what they committed stays, the rest is fetched again next start.
            group.cancelAll()
        }
    }

    /// Marks every due source as running and returns their ids.
    private func takeDue() -> [String] {
        let now = ContinuousClock.now
        return entries.withLockedValue { entries in
            var due: [String] = []
            for (id, entry) in entries where !entry.running && !entry.record.source.paused {
                if let next = entry.nextRun, next <= now {
                    entries[id]!.running = true
                    due.append(id)
                }
            }
            return due
        }
    }

    private func nextDeadline() -> ContinuousClock.Instant? {
        entries.withLockedValue { entries in
            entries.values.filter { !$0.running && !$0.record.source.paused }.compactMap(\.nextRun).min()
        }
    }

    /// Runs one source now and records the outcome. The caller has marked it running.
    private func execute(_ id: String) async -> SourceRecord? {
        guard let (source, memory, generation) = entries.withLockedValue({ entries -> (Source, SourceReader.Memory, Int)? in
            guard let entry = entries[id] else { return nil }
            return (entry.record.source, entry.memory, entry.generation)
        }) else { return nil }
        let started = ContinuousClock.now
        let wallClock = Timestamp.now()
        var status = entries.withLockedValue { $0[id]?.record.status } ?? SourceStatus()
        var memoryAfter = memory
        status.runs += 1
        status.lastRunAt = wallClock
        do {
            let reader = self.reader
            let trusted = isDeclared(source)
            let (batch, memory) = try await withTimeout(.seconds(source.timeout), source: source.id) {
                var memory = memory
                let batch = try await reader.read(source, trusted: trusted, memory: &memory)
                return (batch, memory)
            }
            memoryAfter = memory
            let outcome = try await importer.apply(batch, connector: source.kind.connector)
            status.lastResult = .ok
            status.lastError = nil
            status.lastSuccessAt = wallClock
            status.consecutiveFailures = 0
            status.devices = outcome.devices
            status.devicesChanged = outcome.devicesChanged
            status.observations = outcome.observations
            status.stored = outcome.stored
            status.duplicates = outcome.observations - outcome.stored - outcome.skipped["unknown device", default: 0]
            status.skipped = outcome.skipped
            status.warnings = Array(batch.warnings.prefix(SourceStatus.warningLimit))
            Counter(label: "cmc_persistence_runs_total", dimensions: [("source", id), ("result", "ok")]).increment()
            Counter(label: "cmc_persistence_stored_total", dimensions: [("source", id)]).increment(by: outcome.stored)
        } catch {
            status.lastResult = .failed
            status.lastError = (error as? FeedError)?.message ?? "\(error)"
            status.consecutiveFailures += 1
            Counter(label: "cmc_persistence_runs_total", dimensions: [("source", id), ("result", "failed")]).increment()
            logger.warning("source run failed", metadata: ["source": "\(id)", "error": "\(status.lastError ?? "")",
                                                          "failures": "\(status.consecutiveFailures)"])
        }
        let elapsed = ContinuousClock.now - started
        status.lastDurationMs = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        let delay = Self.delay(interval: source.interval, failures: status.consecutiveFailures)
        status.nextRunAt = source.paused ? nil : wallClock.advanced(by: delay)

        let record: SourceRecord? = entries.withLockedValue { entries in
            guard var entry = entries[id] else { return nil }
            entry.running = false
            if entry.generation == generation {
                entry.memory = memoryAfter
                entry.nextRun = entry.record.source.paused ? nil : started + delay
            } else {
                entry.nextRun = entry.record.source.paused ? nil : ContinuousClock.now
            }
            entry.record.status = status
            entries[id] = entry
            return entry.record
        }
        if record != nil {
            do {
                try await repository.saveStatus(id: id, status)
            } catch {
                // A run cut short by shutdown has nothing to report.
                if !Task.isCancelled { logger.error("cannot save a source's status", metadata: ["source": "\(id)", "error": "\(error)"]) }
            }
        }
        wakeup.signal()
        return record
    }

    /// The interval with ±10 % jitter; after failures, doubled per failure up to an hour (or the interval, if longer).
    static func delay(interval: Int, failures: Int) -> Duration {
        var seconds = Double(interval)
        if failures > 0 { seconds = min(seconds * pow(2, Double(min(failures, 20))), max(3600, Double(interval))) }
        return .milliseconds(Int64(seconds * Double.random(in: 0.9...1.1) * 1000))
    }

    private func withTimeout<Value: Sendable>(_ limit: Duration, source: String, _ body: @escaping @Sendable () async throws -> Value) async throws -> Value {
        try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw FeedError("the run took longer than its timeout of \(limit.components.seconds) s")
            }
            return value
        }
    }
}

extension PersistenceScheduler {
    public func records() -> [SourceRecord] {
        entries.withLockedValue { $0.values.map(\.record) }.sorted { $0.source.id < $1.source.id }
    }

    public func record(id: String) -> SourceRecord? {
        entries.withLockedValue { $0[id]?.record }
    }

    /// Adds or replaces a source; it runs at once unless paused.
    public func save(_ source: Source, origin: SourceOrigin) async throws {
        try await repository.save(source, origin: origin)
        entries.withLockedValue { entries in
            var entry = entries[source.id] ?? Entry(record: SourceRecord(source: source, origin: origin, status: SourceStatus()))
            entry.record.source = source
            entry.record.origin = origin
            entry.generation += 1
            entry.nextRun = source.paused ? nil : ContinuousClock.now
            entry.record.status.nextRunAt = source.paused ? nil : .now()
            entries[source.id] = entry
        }
        wakeup.signal()
    }

    /// Removes a source; what it stored stays.
    public func remove(id: String) async throws -> Bool {
        guard entries.withLockedValue({ $0.removeValue(forKey: id) }) != nil else { return false }
        try await repository.delete(id: id)
        timetables.remove(source: id)
        wakeup.signal()
        return true
    }

    public enum RunError: Error {
        case unknown
        case running
    }

    /// Runs a source now (paused or not) and answers with its record after the run.
    public func runNow(id: String) async throws(RunError) -> SourceRecord {
        let claimed = entries.withLockedValue { entries -> Bool? in
            guard entries[id] != nil else { return nil }
            if entries[id]!.running { return false }
            entries[id]!.running = true
            return true
        }
        guard let claimed else { throw .unknown }
        guard claimed else { throw .running }
        guard let record = await execute(id) else { throw .unknown }
        return record
    }

    /// Makes the sources declared in files the stored ones: new and changed files are saved, sources
    /// whose file is gone are removed. Sources added over REST are left alone.
    public func synchronize(files: [Source]) async throws {
        declared.withLockedValue { declared in declared = Dictionary(files.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first }) }
        let stored = try await repository.all()
        let declared = Set(files.map(\.id))
        for record in stored where record.origin == .file && !declared.contains(record.source.id) {
            try await repository.delete(id: record.source.id)
        }
        for source in files {
            let existing = stored.first { $0.source.id == source.id }
            if existing?.source != source || existing?.origin != .file { try await repository.save(source, origin: .file) }
        }
    }
}

extension Timestamp {
    func advanced(by duration: Duration) -> Timestamp {
        Timestamp(microseconds: microseconds + duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)
    }
}
