import CMCCore
import CMCStorage
import CMCTesting
@testable import History
import Testing

/// The latest reading straight from the repository: SQLite answers it from memory once asked, so
/// each case reads before and after the stores that must change it.
@Suite("Latest readings")
struct LatestReadingTests {
    static func repositories(_ database: any Database, cachedDevices: Int = SQLiteReadingRepository.defaultCachedDevices) async throws -> (any ReadingRepository, table: any ReadingRepository) {
        try await Migrations(directory: TestBackend.migrationsDirectory, dialect: database.dialect).apply(to: database, logger: TestBackend.logger)
        guard database.dialect == .sqlite else { return (PostgresReadingRepository(database: database), PostgresReadingRepository(database: database)) }
        // The second one keeps nothing in memory: it reads the table.
        return (SQLiteReadingRepository(database: database, cachedDevices: cachedDevices), SQLiteReadingRepository(database: database, cachedDevices: 0))
    }

    static func reading(_ device: String, minute: Int64, _ value: Double) -> Reading {
        Reading(device: device, ts: Timestamp(microseconds: 1_772_359_200_000_000 + minute * 60_000_000), category: "weather",
                connector: "http", values: ["t": .number(value)])
    }

    static func value(_ reading: Reading?) -> Double? {
        if case .number(let value)? = reading?.values["t"] { return value }
        return nil
    }

    @Test("a store that changes the latest reading shows in the next read; an older one does not", arguments: TestBackend.all)
    func follows(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            let (repository, _) = try await Self.repositories(database)
            #expect(try await repository.latest(device: "s1") == nil)
            #expect(try await repository.latest(devices: ["s1", "s2"]).isEmpty)
            _ = try await repository.store([Self.reading("s1", minute: 1, 1)])
            #expect(Self.value(try await repository.latest(device: "s1")) == 1)
            _ = try await repository.store([Self.reading("s1", minute: 2, 2), Self.reading("s2", minute: 0, 20)])
            #expect(Self.value(try await repository.latest(device: "s1")) == 2)
            #expect(try await repository.latest(devices: ["s1", "s2", "s3"]).mapValues(Self.value) == ["s1": 2, "s2": 20])
            // A late, older reading is history, not news.
            _ = try await repository.store([Self.reading("s1", minute: 0, 0)])
            #expect(Self.value(try await repository.latest(device: "s1")) == 2)
            // The same time again with other values: the later store wins, as in the table.
            _ = try await repository.store([Self.reading("s2", minute: 0, 21)])
            #expect(try await repository.latest(devices: ["s2"]).mapValues(Self.value) == ["s2": 21])
            #expect(Self.value(try await repository.latest(device: "s2")) == 21)
        }
    }

    @Test("reads racing stores end where the table ends", arguments: TestBackend.all)
    func racing(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            let (repository, table) = try await Self.repositories(database)
            let devices = (0..<4).map { "s\($0)" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        for step in 0..<40 {
                            // Few distinct times, so stores often tie with the latest.
                            let minute = Int64((step * 7 + writer) % 12)
                            _ = try await repository.store([Self.reading(devices[(step + writer) % 4], minute: minute, Double(writer * 1000 + step))])
                        }
                    }
                    group.addTask {
                        for step in 0..<80 {
                            if step % 2 == 0 { _ = try await repository.latest(device: devices[step % 4]) } else { _ = try await repository.latest(devices: devices) }
                        }
                    }
                }
                try await group.waitForAll()
            }
            for device in devices {
                #expect(try await repository.latest(device: device) == (try await table.latest(device: device)), "\(device)")
            }
            #expect(try await repository.latest(devices: devices) == (try await table.latest(devices: devices)))
        }
    }

    @Test("more devices than are kept in memory are all answered right", arguments: TestBackend.all)
    func capacity(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            let (repository, _) = try await Self.repositories(database, cachedDevices: 3)
            let devices = (0..<10).map { "s\($0)" }
            _ = try await repository.store(devices.enumerated().map { Self.reading($1, minute: 0, Double($0)) })
            for round in 1...3 {
                for (index, device) in devices.enumerated() {
                    #expect(Self.value(try await repository.latest(device: device)) == Double(index * round), "\(device)")
                }
                _ = try await repository.store(devices.enumerated().map { Self.reading($1, minute: Int64(round), Double($0 * (round + 1))) })
            }
            #expect(try await repository.latest(devices: devices).count == 10)
        }
    }

    @Test("a read that began before a store ended does not fill the memory with what it read")
    func staleFill() {
        let latest = LatestReadings(capacity: 10)
        let old = Self.reading("s1", minute: 0, 0)
        // A read misses, a store of the device ends, then the read's (older) answer arrives.
        let (missed, generation) = latest.lookup("s1")
        #expect(missed == nil)
        latest.invalidate(["s1"])
        latest.fill(["s1": old], since: generation)
        #expect(latest.lookup("s1").answer == nil)
        // A store of another device also ends the read's chance: a store is not told which devices are being read.
        let (_, second) = latest.lookup("s1")
        latest.invalidate(["s2"])
        latest.fill(["s1": old], since: second)
        #expect(latest.lookup("s1").answer == nil)
        let (_, third) = latest.lookup("s1")
        latest.fill(["s1": old, "s3": nil], since: third)
        #expect(latest.lookup("s1").answer == .some(old))
        #expect(latest.lookup("s3").answer == .some(nil))
        let none = LatestReadings(capacity: 0)
        none.fill(["s1": old], since: none.lookup("s1").generation)
        #expect(none.lookup("s1").answer == nil)
    }
}
