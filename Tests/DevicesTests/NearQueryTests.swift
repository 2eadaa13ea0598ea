import CMCCore
import CMCStorage
import CMCTesting
import Devices
import Foundation
import Testing

/// "Near" answers straight from the repository, checked against distances computed here.
@Suite("Near queries")
struct NearQueryTests {
    static func repository(_ database: any Database) async throws -> any DeviceRepository {
        try await Migrations(directory: TestBackend.migrationsDirectory, dialect: database.dialect).apply(to: database, logger: TestBackend.logger)
        return database.dialect == .sqlite ? SQLiteDeviceRepository(database: database) : PostgresDeviceRepository(database: database)
    }

    static func device(_ id: String, _ category: String, _ lat: Double?, _ lon: Double?, owner: String = "city", public isPublic: Bool = true,
                       connector: String = "http") throws -> Device {
        let now = Timestamp(microseconds: 1_700_000_000_000_000)
        return Device(id: id, category: category, connector: connector, location: try lat.map { try GeoPoint(lat: $0, lon: lon!) },
                      nickname: nil, public: isPublic, metadata: ["n": .number(1)], ownerID: owner, createdAt: now, updatedAt: now)
    }

    /// What every backend must answer, computed from the devices themselves.
    static func expected(_ devices: [Device], _ filter: DeviceFilter, point: GeoPoint, radius: Double) -> [String] {
        devices.filter { device in
            guard let location = device.location, point.distance(to: location) <= radius else { return false }
            if let category = filter.category, device.category != category { return false }
            if let connector = filter.connector, device.connector != connector { return false }
            if let user = filter.visibleTo, !device.public, device.ownerID != user { return false }
            return true
        }
        .sorted { (point.distance(to: $0.location!), $0.id) < (point.distance(to: $1.location!), $1.id) }
        .prefix(filter.limit).map(\.id)
    }

    @Test("every write shows in the next near answer, and a restart answers the same", arguments: TestBackend.all)
    func writesShow(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            let repository = try await Self.repository(database)
            let here = try GeoPoint(lat: 39.2238, lon: 9.1217)
            // Reads by id come from the grid once a near query loaded it; this repository is never
            // asked one, so it reads the rows.
            let rows = try await Self.repository(database)
            func near(_ category: String, _ repository: any DeviceRepository = repository) async throws -> [String] {
                let ids = try await repository.list(DeviceFilter(category: category, near: (here, 200))).map(\.id)
                for id in ["a", "b", "c", "d", "ghost"] {
                    #expect(try await repository.find(id: id) == rows.find(id: id), "\(id)")
                }
                return ids
            }
            try await repository.insert(contentsOf: [
                try Self.device("a", "parking", 39.2238, 9.1217), try Self.device("b", "parking", 39.2242, 9.1217),
                try Self.device("c", "bus_stop", 39.2239, 9.1218),
            ])
            #expect(try await near("parking") == ["a", "b"])

            var issued = try Self.device("d", "parking", 39.2240, 9.1217)
            issued.credentials = DeviceCredentials(username: "d", password: "secret")  // as POST /devices returns it, once
            try await repository.insert(issued)
            #expect(try await near("parking") == ["a", "d", "b"])
            try await repository.update(try Self.device("b", "parking", 39.30, 9.20))  // moved away
            #expect(try await near("parking") == ["a", "d"])
            try await repository.update(try Self.device("a", "bus_stop", 39.2238, 9.1217))  // another category
            #expect(try await near("parking") == ["d"])
            #expect(try await near("bus_stop") == ["a", "c"])
            try await repository.update(try Self.device("c", "bus_stop", nil, nil))  // position removed
            #expect(try await near("bus_stop") == ["a"])
            #expect(try await repository.delete(id: "a"))
            #expect(try await near("bus_stop") == [])
            try await repository.update(try Self.device("ghost", "parking", 39.2238, 9.1217))  // never registered
            #expect(try await near("parking") == ["d"])
            await #expect(throws: (any Error).self) { try await repository.insert(try Self.device("d", "parking", 39.2238, 9.1217)) }
            #expect(try await near("parking") == ["d"])
            let answer = try await repository.list(DeviceFilter(category: "parking", near: (here, 200)))
            #expect(answer.first?.metadata == ["n": .number(1)] && answer.first?.credentials == nil)

            // Another repository over the same file, as after a restart.
            let restarted = try await Self.repository(database)
            #expect(try await near("parking", restarted) == ["d"])
            #expect(try await near("bus_stop", restarted) == [])
            try await restarted.update(try Self.device("b", "parking", 39.2238, 9.1218))
            #expect(try await near("parking", restarted) == ["b", "d"])
        }
    }

    @Test("per-category R*Trees left by versions before the grid are dropped, and nothing else")
    func retiredTrees() async throws {
        try await TestBackend.sqlite.withDatabase { database in
            let repository = try await Self.repository(database) as! SQLiteDeviceRepository
            // As those versions made them, with their categories.
            for code in [1, 7] { _ = try await database.query("CREATE VIRTUAL TABLE device_locations_c\(code) USING rtree(rid, min_lat, max_lat, min_lon, max_lon)") }
            _ = try await database.query("CREATE TABLE device_locations_cx (a INTEGER)")  // not one of them
            try await repository.insert(try Self.device("a", "parking", 39.2238, 9.1217))
            #expect(try await repository.dropRetiredTrees() == 2)
            let tables = try await database.query("SELECT name FROM sqlite_master WHERE name LIKE 'device_locations%' ORDER BY name").map { try $0.string("name") }
            #expect(tables == ["device_locations_cx"])
            #expect(try await repository.dropRetiredTrees() == 0)
            #expect(try await repository.list(DeviceFilter(category: "parking", near: (try GeoPoint(lat: 39.2238, lon: 9.1217), 100))).map(\.id) == ["a"])
        }
    }

    @Test("answers match true distances at every radius, with filters, pages and the antimeridian", arguments: TestBackend.all)
    func matchesDistances(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            let repository = try await Self.repository(database)
            var random = SplitMix64(seed: 11)
            var devices: [Device] = []
            for index in 0..<600 {
                // A city centre, its outskirts, and a few devices either side of the antimeridian.
                let (lat, lon): (Double, Double) = switch index % 10 {
                case 0: (-16.5 + random.nextUnit() * 0.02, index % 20 == 0 ? 179.99 + random.nextUnit() * 0.0099 : -179.9999 + random.nextUnit() * 0.0099)
                case 1, 2: (39.0 + random.nextUnit() * 0.5, 8.8 + random.nextUnit() * 0.6)
                default: (39.20 + random.nextUnit() * 0.05, 9.08 + random.nextUnit() * 0.07)
                }
                devices.append(try Self.device("d\(index)", ["parking", "bus_stop", "traffic"][index % 3], lat, lon,
                                               owner: ["city", "ana", "bob"][index % 5 % 3], public: index % 4 != 0,
                                               connector: index % 7 == 0 ? "mqtt" : "http"))
            }
            try await repository.insert(contentsOf: devices)
            let points = [try GeoPoint(lat: 39.2238, lon: 9.1217), try GeoPoint(lat: 39.21, lon: 9.13), try GeoPoint(lat: -16.49, lon: 179.999)]
            for point in points {
                for radius in [30.0, 250, 1_500, 40_000, 25_000_000] {
                    for filter in [
                        DeviceFilter(category: "bus_stop", limit: 1000), DeviceFilter(limit: 25),
                        DeviceFilter(category: "parking", connector: "mqtt", limit: 1000), DeviceFilter(visibleTo: "ana", limit: 1000),
                    ] {
                        var query = filter
                        query.near = (point, radius)
                        let answer = try await repository.list(query)
                        #expect(answer.map(\.id) == Self.expected(devices, filter, point: point, radius: radius),
                                "\(point) \(radius) m \(filter.category ?? "-") \(filter.connector ?? "-") \(filter.visibleTo ?? "-")")
                        for device in answer {
                            #expect(abs(device.distance! - point.distance(to: device.location!)) < 0.5)
                        }
                    }
                }
            }
            // Pages of 7 by the distance cursor add up to the whole answer.
            let point = points[0]
            var pages: [String] = []
            var after: DeviceCursor?
            repeat {
                let page = try await repository.list(DeviceFilter(category: "traffic", near: (point, 3_000), limit: 7, after: after))
                pages += page.map(\.id)
                after = page.count == 7 ? .distance(page.last!.distance!, page.last!.id) : nil
            } while after != nil
            #expect(pages == Self.expected(devices, DeviceFilter(category: "traffic", limit: 1000), point: point, radius: 3_000))
        }
    }

    @Test("small pages of a dense city are its nearest devices, and equal distances in different cells go by id", arguments: TestBackend.all)
    func densePages(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            let repository = try await Self.repository(database)
            var random = SplitMix64(seed: 23)
            // Thousands of devices in a few square kilometres: a 500 m circle holds hundreds.
            var devices: [Device] = []
            for index in 0..<2_400 {
                devices.append(try Self.device("t\(index)", ["traffic", "bus_stop"][index % 2], 39.20 + random.nextUnit() * 0.03, 9.10 + random.nextUnit() * 0.04,
                                               owner: ["city", "ana"][index % 3 % 2], public: index % 5 != 0))
            }
            // Pairs at the same distance from `centre`, east and west of it, so in different cells;
            // the id order is the reverse of the longitude order.
            // Binary fractions, so both offsets are exact and the distances equal to the last bit.
            let centre = try GeoPoint(lat: 39.3125, lon: 9.3125)
            for (index, offset) in [0.0009765625, 0.001953125, 0.0029296875].enumerated() {
                devices.append(try Self.device("pair\(index)-a", "parking", centre.lat, centre.lon + offset))
                devices.append(try Self.device("pair\(index)-b", "parking", centre.lat, centre.lon - offset))
            }
            try await repository.insert(contentsOf: devices)

            for _ in 0..<60 {
                let point = try GeoPoint(lat: 39.195 + random.nextUnit() * 0.04, lon: 9.095 + random.nextUnit() * 0.05)
                let radius = [50.0, 200, 500, 2_000][Int(random.next() % 4)]
                var filter = DeviceFilter(category: random.next() % 3 == 0 ? nil : "traffic", visibleTo: random.next() % 2 == 0 ? nil : "ana",
                                          limit: [1, 5, 20, 100][Int(random.next() % 4)])
                let expected = Self.expected(devices, filter, point: point, radius: radius)
                filter.near = (point, radius)
                let page = try await repository.list(filter)
                #expect(page.map(\.id) == expected, "\(point) \(radius) m, limit \(filter.limit)")
                // The next page starts right after the last device of this one.
                guard let last = page.last, page.count == filter.limit else { continue }
                filter.after = .distance(last.distance!, last.id)
                var all = filter
                all.limit = 1000
                all.near = nil
                let rest = Self.expected(devices, all, point: point, radius: radius).drop { $0 != last.id }.dropFirst().prefix(filter.limit)
                #expect(try await repository.list(filter).map(\.id) == Array(rest), "after \(last.id)")
            }

            let pairs = try await repository.list(DeviceFilter(category: "parking", near: (centre, 1_000), limit: 6)).map(\.id)
            #expect(pairs == ["pair0-a", "pair0-b", "pair1-a", "pair1-b", "pair2-a", "pair2-b"])
            var one = DeviceFilter(category: "parking", near: (centre, 1_000), limit: 1)
            let first = try await repository.list(one)
            #expect(first.map(\.id) == ["pair0-a"])
            one.after = .distance(try #require(first.first?.distance), "pair0-a")
            #expect(try await repository.list(one).map(\.id) == ["pair0-b"])
        }
    }
}
