import Auth
import CMCCore
import CMCTesting
@testable import Devices
import Platform
import Foundation
import Testing

@Suite("Device service")
struct DeviceTests {
    @Test("register, read, change and delete a device", arguments: TestBackend.all)
    func lifecycle(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let ana = try await t.user("ana")
            let body: [String: Any] = [
                "id": "AA:BB:CC:00:11:22", "category": "parking", "connector": "mqtt", "location": ["lat": 39.2238, "lon": 9.1217],
                "nickname": "Via Roma", "metadata": ["capacity": 120, "levels": ["A", "B"]],
            ]
            let created = try await t.client.json(.post, "/devices", token: ana.token, body: body, expect: .created)
            #expect(created["public"] as? Bool == false)
            #expect(created["ownerID"] as? String == ana.id)
            #expect(try await t.client.send(.post, "/devices", token: ana.token, body: body).status == .conflict)

            let read = try await t.client.json(.get, "/devices/AA:BB:CC:00:11:22", token: ana.token)
            #expect((read["metadata"] as? [String: Any])?["capacity"] as? Int == 120)
            #expect((read["location"] as? [String: Any])?["lat"] as? Double == 39.2238)

            let patched = try await t.client.json(.patch, "/devices/AA:BB:CC:00:11:22", token: ana.token,
                                                  body: ["nickname": NSNull(), "location": ["lat": 39.2, "lon": 9.1], "public": true])
            #expect(patched["nickname"] == nil)
            #expect(patched["public"] as? Bool == true)
            let near = try await t.client.json(.get, "/devices?near=39.2,9.1&radius=10", token: ana.token)
            #expect((near["devices"] as? [[String: Any]])?.map { $0["id"] as? String } == ["AA:BB:CC:00:11:22"])

            try await t.client.json(.delete, "/devices/AA:BB:CC:00:11:22", token: ana.token, expect: .noContent)
            #expect(try await t.client.send(.get, "/devices/AA:BB:CC:00:11:22", token: ana.token).status == .notFound)
            let gone = try await t.client.json(.get, "/devices?near=39.2,9.1&radius=10", token: ana.token)
            #expect((gone["devices"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("bad registrations and queries get 400 naming the field", arguments: TestBackend.all)
    func validation(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let ana = try await t.user("ana")
            let base: [String: Any] = ["id": "dev-1", "category": "parking", "connector": "http"]
            let cases: [([String: Any], String)] = [
                (base.merging(["location": ["lat": 91, "lon": 9]]) { $1 }, "location.lat"),
                (base.merging(["location": ["lat": 39, "lon": -181]]) { $1 }, "location.lon"),
                (base.merging(["location": ["lat": 39, "lon": 9, "alt": 3]]) { $1 }, "location.alt"),
                (base.merging(["location": ["lat": "39", "lon": 9]]) { $1 }, "location.lat"),
                (base.merging(["public": "yes"]) { $1 }, "public"),
                (base.merging(["publc": true]) { $1 }, "publc"),
                (base.merging(["category": "Parking Lot"]) { $1 }, "category"),
                (base.merging(["id": "has space"]) { $1 }, "id"),
                (["category": "parking", "connector": "http"], "id"),
            ]
            for (body, field) in cases {
                let reply = try await t.client.send(.post, "/devices", token: ana.token, body: body)
                #expect(reply.status == .badRequest, "\(body)")
                #expect(reply.errorMessage?.hasPrefix(field) == true, "\(field): \(reply.text)")
            }
            for (query, field) in [("near=91,9&radius=5", "near"), ("near=39,9", "radius"), ("near=39,9&radius=-1", "radius"),
                                   ("radius=5", "radius"), ("limit=0", "limit"), ("colour=red", "colour"), ("cursor=%25%25", "cursor")] {
                let reply = try await t.client.send(.get, "/devices?\(query)", token: ana.token)
                #expect(reply.status == .badRequest, "\(query)")
                #expect(reply.errorMessage?.hasPrefix(field) == true, "\(query): \(reply.text)")
            }
        }
    }

    @Test("near answers every device within the radius by true distance, nearest first, page by page", arguments: TestBackend.all)
    func nearQuery(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            var random = SplitMix(seed: 7)
            var devices: [Device] = []
            let now = Timestamp.now()
            for index in 0..<400 {
                let category = index % 4 == 0 ? "parking" : "bus_stop"
                let point = try GeoPoint(lat: 39.20 + 0.05 * random.unit(), lon: 9.08 + 0.07 * random.unit())
                devices.append(Device(id: "d\(index)", category: category, connector: "http", location: point, nickname: nil, public: true,
                                      metadata: [:], ownerID: "city", createdAt: now, updatedAt: now))
            }
            try await t.platform.clients.devices.register(devices)
            let origin = try GeoPoint(lat: 39.2238, lon: 9.1217)
            let radius = 1500.0
            for category in ["parking", "bus_stop"] {
                let expected = devices.filter { $0.category == category && origin.distance(to: $0.location!) <= radius }
                    .sorted { origin.distance(to: $0.location!) < origin.distance(to: $1.location!) }
                #expect(expected.count > 5)
                var seen: [[String: Any]] = []
                var cursor: String?
                repeat {
                    let page = try await t.client.json(.get, "/devices?category=\(category)&near=39.2238,9.1217&radius=1500&limit=7"
                                                       + (cursor.map { "&cursor=\($0)" } ?? ""), token: t.adminToken)
                    seen += page["devices"] as! [[String: Any]]
                    cursor = page["nextCursor"] as? String
                } while cursor != nil
                #expect(seen.map { $0["id"] as! String } == expected.map(\.id))
                let distances = seen.map { $0["distance"] as! Double }
                #expect(distances == distances.sorted())
                for (device, distance) in zip(expected, distances) {
                    #expect(abs(origin.distance(to: device.location!) - distance) < 0.5)
                }
            }
            // Plain listing pages through every device exactly once.
            var ids: [String] = []
            var cursor: String?
            repeat {
                let page = try await t.client.json(.get, "/devices?limit=150" + (cursor.map { "&cursor=\($0)" } ?? ""), token: t.adminToken)
                ids += (page["devices"] as! [[String: Any]]).map { $0["id"] as! String }
                cursor = page["nextCursor"] as? String
            } while cursor != nil
            #expect(ids.count == 400 && Set(ids).count == 400)
            let parking = try await t.client.json(.get, "/devices?category=parking&limit=1000", token: t.adminToken)
            #expect((parking["devices"] as! [Any]).count == 100)
        }
    }

    @Test("bbox lists the devices inside a box in id order, page by page", arguments: TestBackend.all)
    func box(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let points: [(String, Double, Double)] = [("a", 39.21, 9.11), ("b", 39.22, 9.12), ("c", 39.23, 9.13), ("d", 39.30, 9.12), ("e", 39.22, 9.20), ("f", 39.225, 9.115)]
            for (id, lat, lon) in points {
                try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": id, "category": "parking", "connector": "http",
                                                                                   "public": true, "location": ["lat": lat, "lon": lon]], expect: .created)
            }
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "g", "category": "parking", "connector": "http", "public": true], expect: .created)
            var ids: [String] = []
            var cursor: String?
            repeat {
                let page = try await t.client.json(.get, "/devices?bbox=9.10,39.20,9.14,39.24&limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                ids += (page["devices"] as! [[String: Any]]).map { $0["id"] as! String }
                cursor = page["nextCursor"] as? String
            } while cursor != nil
            #expect(ids == ["a", "b", "c", "f"])
            let edge = try await t.client.json(.get, "/devices?bbox=9.12,39.22,9.13,39.23")
            #expect((edge["devices"] as! [[String: Any]]).map { $0["id"] as! String } == ["b", "c"])
            let mixed = try await t.client.send(.get, "/devices?bbox=9.1,39.2,9.2,39.3&near=39.2,9.1&radius=10")
            #expect(mixed.status == .badRequest && mixed.errorMessage?.contains("bbox") == true)
            let bad = try await t.client.send(.get, "/devices?bbox=9.2,39.2,9.1,39.3")
            #expect(bad.status == .badRequest && bad.errorMessage?.hasPrefix("bbox") == true)
        }
    }

    @Test("one user's token never reaches another user's private device", arguments: TestBackend.all)
    func isolation(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let ana = try await t.user("ana")
            let bob = try await t.user("bob")
            try await t.client.json(.post, "/devices", token: ana.token,
                                    body: ["id": "ana-meter", "category": "energy", "connector": "http", "location": ["lat": 39.22, "lon": 9.12]], expect: .created)
            try await t.client.json(.post, "/devices", token: ana.token,
                                    body: ["id": "ana-public", "category": "energy", "connector": "http", "public": true], expect: .created)
            try await t.client.json(.post, "/devices/ana-meter/data", token: ana.token, body: ["values": ["kwh": 3.5]], expect: .created)

            let bobApp = try await t.application(ownerToken: bob.token)
            for token in [bob.token, bobApp.token] {
                #expect(try await t.client.send(.get, "/devices/ana-meter", token: token).status == .notFound)
                #expect(try await t.client.send(.patch, "/devices/ana-meter", token: token, body: ["public": true]).status == .notFound)
                #expect(try await t.client.send(.delete, "/devices/ana-meter", token: token).status == .notFound)
                #expect(try await t.client.send(.post, "/devices/ana-meter/data", token: token, body: ["values": ["kwh": 0]]).status == .notFound)
                #expect(try await t.client.send(.get, "/devices/ana-meter/data/latest", token: token).status == .notFound)
                #expect(try await t.client.send(.get, "/history/ana-meter/latest", token: token).status == .notFound)
                #expect(try await t.client.send(.get, "/history?device=ana-meter", token: token).status == .notFound)
                #expect(try await t.client.send(.get, "/history/ana-meter/aggregate?field=kwh", token: token).status == .notFound)
                let listed = try await t.client.json(.get, "/devices?category=energy", token: token)
                #expect((listed["devices"] as! [[String: Any]]).map { $0["id"] as! String } == ["ana-public"])
                let near = try await t.client.json(.get, "/devices?near=39.22,9.12&radius=100", token: token)
                #expect((near["devices"] as! [Any]).isEmpty)
                let history = try await t.client.json(.get, "/history?category=energy", token: token)
                #expect((history["readings"] as! [Any]).isEmpty)
                // Public devices are readable but not writable by others.
                #expect(try await t.client.send(.get, "/devices/ana-public", token: token).status == .ok)
                #expect(try await t.client.send(.post, "/devices/ana-public/data", token: token, body: ["values": ["kwh": 1]]).status == .forbidden)
            }
            // Without a token (the web map), public devices and their data only; writing needs a token.
            #expect(try await t.client.send(.get, "/devices/ana-meter").status == .notFound)
            #expect(try await t.client.send(.get, "/history/ana-meter/latest").status == .notFound)
            #expect(try await t.client.send(.get, "/history?device=ana-meter").status == .notFound)
            #expect(try await t.client.send(.get, "/devices/ana-public").status == .ok)
            let anonymous = try await t.client.json(.get, "/devices?category=energy&latest=true")
            #expect((anonymous["devices"] as! [[String: Any]]).map { $0["id"] as! String } == ["ana-public"])
            #expect((anonymous["latest"] as? [String: Any])?.isEmpty == true)
            #expect(try await t.client.send(.post, "/devices/ana-public/data", body: ["values": ["kwh": 1]]).status == .unauthorized)
            try await t.client.json(.post, "/devices/ana-public/data", token: ana.token, body: ["values": ["kwh": 2]], expect: .created)
            let withLatest = try await t.client.json(.get, "/devices?category=energy&latest=true")
            #expect(((withLatest["latest"] as? [String: Any])?["ana-public"] as? [String: Any])?["values"] as? [String: Int] == ["kwh": 2])
            #expect((try await t.client.json(.get, "/history/ana-public/latest"))["device"] as? String == "ana-public")
            // Ana's own application acts for her; the admin reaches everything.
            let anaApp = try await t.application(ownerToken: ana.token)
            #expect(try await t.client.send(.get, "/devices/ana-meter", token: anaApp.token).status == .ok)
            #expect(try await t.client.send(.post, "/devices/ana-meter/data", token: anaApp.token, body: ["values": ["kwh": 4]]).status == .created)
            #expect(try await t.client.send(.get, "/devices/ana-meter", token: t.adminToken).status == .ok)
            let history = try await t.client.json(.get, "/history?category=energy", token: ana.token)
            #expect((history["readings"] as! [Any]).count == 3)
        }
    }

    @Test("readings are written one at a time or in batches, validated, and read back as latest", arguments: TestBackend.all)
    func data(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let ana = try await t.user("ana")
            try await t.client.json(.post, "/devices", token: ana.token, body: ["id": "loop-1", "category": "traffic", "connector": "http"], expect: .created)
            #expect(try await t.client.send(.get, "/devices/loop-1/data/latest", token: ana.token).status == .notFound)
            let single = try await t.client.json(.post, "/devices/loop-1/data", token: ana.token, body: ["values": ["flow": 820, "speed": 42.5]], expect: .created)
            #expect(single["stored"] as? Int == 1)
            let batch = try await t.client.json(.post, "/devices/loop-1/data", token: ana.token, body: [
                ["ts": "2026-01-01T10:00:00Z", "values": ["flow": 100]],
                ["ts": "2026-01-01T10:05:00+01:00", "values": ["flow": 110]],
                ["ts": "2026-01-01T10:00:00Z", "values": ["flow": 100]],
            ], expect: .created)
            #expect(batch["received"] as? Int == 3)
            #expect(batch["stored"] as? Int == 2, "the same observation twice is stored once")
            let latest = try await t.client.json(.get, "/devices/loop-1/data/latest", token: ana.token)
            #expect((latest["values"] as? [String: Any])?["speed"] as? Double == 42.5, "older readings arriving late do not replace the latest")

            let bad: [(Any, String)] = [
                (["values": [:]], "values"),
                (["values": ["flow": 1], "extra": 1], "extra"),
                (["ts": "yesterday", "values": ["flow": 1]], "ts"),
                (["ts": "2999-01-01T00:00:00Z", "values": ["flow": 1]], "ts"),
                ([["values": ["flow": 1]], ["values": ["bad key": 1]]], "[1].values.bad key"),
                (["values": "fast"], "values"),
            ]
            for (body, field) in bad {
                let reply = try await t.client.send(.post, "/devices/loop-1/data", token: ana.token, body: body)
                #expect(reply.status == .badRequest, "\(body)")
                #expect(reply.errorMessage?.hasPrefix(field) == true, "\(field): \(reply.text)")
            }
            let tooMany = (0...1000).map { ["ts": Double(1_700_000_000 + $0), "values": ["flow": $0]] as [String: Any] }
            #expect(try await t.client.send(.post, "/devices/loop-1/data", token: ana.token, body: tooMany).status == .badRequest)
            #expect(try await t.client.send(.post, "/devices/nope/data", token: ana.token, body: ["values": ["a": 1]]).status == .notFound)
        }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func unit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
}

@Suite("Device JSON")
struct DeviceJSONTests {
    @Test("the direct JSON writer gives the same document as JSONEncoder")
    func sameAsEncoder() throws {
        let device = Device(id: "AA:BB", category: "parking", connector: "mqtt", location: try GeoPoint(lat: 39.2238, lon: 9.1217),
                            nickname: "Via \"Roma\"\n", public: true,
                            metadata: ["capacity": .number(120), "ratio": .number(0.25), "tags": .array([.string("a"), .null, .bool(false)]),
                                       "nested": .object(["z": .number(1), "a": .string("é\u{1}")])],
                            ownerID: "u1", createdAt: Timestamp(microseconds: 1_700_000_000_123_456), updatedAt: .now(), distance: 12.345678)
        for value in [device, Device(id: "b", category: "c", connector: "http", location: nil, nickname: nil, public: false, metadata: [:],
                                     ownerID: "o", createdAt: .now(), updatedAt: .now())] {
            var writer = JSONWriter()
            value.write(to: &writer)
            let direct = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as! NSDictionary
            let encoded = try JSONSerialization.jsonObject(with: try JSONCoding.encoder.encode(value)) as! NSDictionary
            #expect(direct == encoded)
            #expect(String(decoding: writer.bytes, as: UTF8.self) == String(decoding: try JSONCoding.encoder.encode(value), as: UTF8.self))
        }
        var writer = JSONWriter()
        device.write(to: &writer)
        #expect(String(decoding: writer.bytes, as: UTF8.self).contains(#""distance":12.346,"#))
    }

    @Test("a prewritten device writes what the encoder writes, with its distance, and a change to any field drops the copy")
    func prewritten() throws {
        var device = Device(id: "AA:BB", category: "parking", connector: "mqtt", location: try GeoPoint(lat: 39.2238, lon: 9.1217),
                            nickname: "Via \"Roma\"", public: true, metadata: ["capacity": .number(120), "zone": .string("A")],
                            ownerID: "u1", createdAt: Timestamp(microseconds: 1_700_000_000_123_456), updatedAt: Timestamp(microseconds: 1_700_000_100_000_000))
        func written(_ device: Device) -> String {
            var writer = JSONWriter()
            writer.array([device, device]) { w, device in device.write(to: &w) }
            return String(decoding: writer.bytes, as: UTF8.self)
        }
        func encoded(_ device: Device) throws -> String {
            String(decoding: try JSONCoding.encoder.encode([device, device]), as: UTF8.self)
        }
        let plain = device
        device.prewrite()
        #expect(device.isPrewritten)
        #expect(device == plain)
        #expect(try written(device) == encoded(device))
        device.distance = 12.5
        #expect(device.isPrewritten)
        #expect(try written(device) == encoded(device))
        #expect(written(device).contains("\"createdAt\":\"2023-11-14T22:13:20.123456Z\",\"distance\":12.5,\"id\""))
        device.credentials = DeviceCredentials(username: "AA:BB", password: "secret")
        #expect(try written(device) == encoded(device))
        device.credentials = nil

        let changes: [(String, (inout Device) throws -> Void)] = [
            ("category", { $0.category = "bus_stop" }), ("connector", { $0.connector = "coap" }),
            ("location", { $0.location = try GeoPoint(lat: 1, lon: 2) }), ("nickname", { $0.nickname = nil }),
            ("public", { $0.public = false }), ("metadata", { $0.metadata["zone"] = .string("B") }),
            ("updatedAt", { $0.updatedAt = Timestamp(microseconds: 1_800_000_000_000_000) }),
        ]
        for (field, change) in changes {
            var changed = device
            try change(&changed)
            #expect(!changed.isPrewritten, "\(field)")
            #expect(try written(changed) == encoded(changed), "\(field)")
        }
    }

    @Test("a command's direct JSON is the same document as JSONEncoder's")
    func commandSameAsEncoder() throws {
        let now = Timestamp(microseconds: 1_700_000_000_123_456)
        let answered = Command(id: "c-1", device: "gpio-1", name: "alarm", params: ["gpio": .number(17), "note": .string("ring \"twice\"")],
                               status: .acked, result: .object(["done": .bool(true), "took": .number(0.25)]), requestedBy: "u1",
                               createdAt: now, updatedAt: now, expiresAt: Timestamp(microseconds: now.microseconds + 30_000_000))
        var pending = answered
        pending.status = .pending
        pending.result = nil
        for command in [answered, pending] {
            var writer = JSONWriter()
            command.write(to: &writer)
            #expect(String(decoding: writer.bytes, as: UTF8.self) == String(decoding: try JSONCoding.encoder.encode(command), as: UTF8.self))
        }
    }
}
