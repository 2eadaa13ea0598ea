import CMCCore
import CMCTesting
@testable import Devices
import Events
import Foundation
import Platform
import Testing

@Suite("Device lookup")
struct DeviceLookupTests {
    static func device(_ id: String, category: String = "parking") -> Device {
        let now = Timestamp.now()
        return Device(id: id, category: category, connector: "http", location: nil, nickname: nil, public: true, metadata: [:],
                      ownerID: "lookup-test", createdAt: now, updatedAt: now)
    }

    /// Polls until `condition` holds, for at most two seconds.
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<40 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    @Test("changes announced on the bus reach the cache; silent ones only once an entry expires; absent ids are remembered too",
          arguments: TestBackend.all)
    func followsAnnouncements(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let repository = try await DeviceStorage.open(on: t.database)
            let bus = EventBus()
            let lookup = DeviceLookup(repository: repository, events: bus, lifetime: .milliseconds(400))
            let running = Task { try await lookup.run() }
            defer { running.cancel() }

            // Absent, and remembered as absent: a device registered behind the cache's back (by
            // another process) is not seen until it is announced.
            #expect(try await lookup.device("lookup-a") == nil)
            try await repository.insert(Self.device("lookup-a"))
            #expect(try await lookup.device("lookup-a") == nil)
            bus.publish([Event(.deviceCreated, device: Self.device("lookup-a"))])
            #expect(try await Self.eventually { try await lookup.device("lookup-a") != nil })

            // A silent change shows once the entry has expired, not before.
            var changed = Self.device("lookup-a", category: "bikes")
            changed.updatedAt = .now()
            try await repository.update(changed)
            #expect(try await lookup.device("lookup-a")?.category == "parking")
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await lookup.device("lookup-a")?.category == "bikes")

            // A deletion that is announced is seen at once.
            _ = try await repository.delete(id: "lookup-a")
            bus.publish([Event(.deviceDeleted, device: changed)])
            #expect(try await Self.eventually { try await lookup.device("lookup-a") == nil })
        }
    }

    @Test("a cache that fell behind the bus forgets everything and listens again")
    func cutOff() async throws {
        try await TestPlatform.run(.sqlite) { t in
            let repository = try await DeviceStorage.open(on: t.database)
            // A bus that holds two events per subscriber: a third one cuts the cache off.
            let bus = EventBus(bufferSize: 2)
            let lookup = DeviceLookup(repository: repository, events: bus)
            try await repository.insert(Self.device("lookup-b"))
            #expect(try await lookup.device("lookup-b")?.category == "parking")
            var changed = Self.device("lookup-b", category: "bikes")
            changed.updatedAt = .now()
            try await repository.update(changed)
            let unrelated = (0..<3).map { Event(.deviceChanged, device: Self.device("lookup-other-\($0)")) }
            bus.publish(unrelated)

            let running = Task { try await lookup.run() }
            defer { running.cancel() }
            // The change of lookup-b was never announced, yet the cut-off makes it seen ...
            #expect(try await Self.eventually { try await lookup.device("lookup-b")?.category == "bikes" })
            // ... and the cache listens again: the next announcement reaches it.
            changed = Self.device("lookup-b", category: "air")
            changed.updatedAt = .now()
            try await repository.update(changed)
            #expect(try await Self.eventually {
                bus.publish([Event(.deviceChanged, device: changed)])
                return try await lookup.device("lookup-b")?.category == "air"
            })
        }
    }

    @Test("ids from outside cannot grow the cache past its bound")
    func bounded() async throws {
        try await TestPlatform.run(.sqlite) { t in
            let lookup = DeviceLookup(repository: try await DeviceStorage.open(on: t.database), events: nil, maximumEntries: 8)
            for index in 0..<50 {
                let found = try await lookup.device("probe-\(index)")
                #expect(found == nil)
            }
            #expect(lookup.count <= 8)
            #expect(lookup.count > 0)
        }
    }
}
