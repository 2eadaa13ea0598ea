import Auth
import CMCCore
import CMCStorage
import CMCTesting
import Foundation
import History
import Platform
import Testing

@Suite("History service")
struct HistoryTests {
    /// Registers a device and writes `values` of `field` at 10:00, 10:01, ... on 2026-03-01.
    static func seed(_ t: TestPlatform, device: String = "sensor-1", field: String = "t", values: [Any]) async throws -> String {
        let user = try await t.user("owner")
        try await t.client.json(.post, "/devices", token: user.token, body: ["id": device, "category": "weather", "connector": "http"], expect: .created)
        let readings = values.enumerated().map { index, value in
            ["ts": "2026-03-01T10:\(index < 10 ? "0" : "")\(index):00Z", "values": [field: value]] as [String: Any]
        }
        try await t.client.json(.post, "/devices/\(device)/data", token: user.token, body: readings, expect: .created)
        return user.token
    }

    @Test("what cannot be stored faithfully or is too large is refused with its reason: deep nesting, numbers beyond a double, unpaired surrogates, 64 KiB values", arguments: TestBackend.all)
    func unfaithfulBodies(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "deep", "category": "weather", "connector": "http"], expect: .created)
            func nested(_ depth: Int) -> String { String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth) }
            let cases: [(String, String, String)] = [
                ("/devices/deep/data", #"{"values":{"v":\#(nested(300))}}"#, "256"),
                ("/devices/deep/data", #"{"values":{"v":1e400}}"#, "number out of range"),
                ("/devices/deep/data", #"{"values":{"v":"\ud800"}}"#, "unpaired surrogate"),
                ("/devices", #"{"id":"deep2","category":"weather","connector":"http","metadata":{"m":\#(nested(400))}}"#, "256"),
                // A reading is a measurement, not a file.
                ("/devices/deep/data", #"{"values":{"photo":"\#(String(repeating: "x", count: 70_000))"}}"#, "values: are 70012 bytes as JSON; at most 65536"),
            ]
            for (path, body, reason) in cases {
                let reply = try await t.client.send(.post, path, token: t.adminToken, body: body)
                #expect(reply.status == .badRequest, "\(reason): \(reply.status)")
                #expect(reply.errorMessage?.contains(reason) == true, "\(reply.text)")
            }
            #expect(try await t.client.send(.get, "/history/deep/latest", token: t.adminToken).status == .notFound)
            #expect(try await t.client.send(.get, "/devices/deep2", token: t.adminToken).status == .notFound)
            // Within the limit, a nested value reads back as it was sent.
            let deepest = nested(250)
            try await t.client.json(.post, "/devices/deep/data", token: t.adminToken, body: #"{"values":{"v":\#(deepest)}}"#, expect: .created)
            let latest = try await t.client.send(.get, "/history/deep/latest", token: t.adminToken).text
            #expect(latest.contains(deepest), "the nested value must come back whole")
        }
    }

    @Test("aggregates of values near a double's limit: the average is right, a sum beyond range is refused by name", arguments: TestBackend.all)
    func aggregateOverflow(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "huge", "category": "weather", "connector": "http"], expect: .created)
            try await t.client.json(.post, "/devices/huge/data", token: t.adminToken,
                                    body: [["ts": "2026-03-01T10:00:00Z", "values": ["t": 1.7e308]], ["ts": "2026-03-01T10:01:00Z", "values": ["t": 1.7e308]]], expect: .created)
            let range = "field=t&bucket=1h&from=2026-03-01T10:00:00Z&to=2026-03-01T11:00:00Z"
            let sum = try await t.client.send(.get, "/history/huge/aggregate?\(range)&fn=sum", token: t.adminToken)
            #expect(sum.status == .unprocessableContent, "\(sum.text)")
            #expect(sum.errorCode == "aggregate_overflow")
            #expect(sum.errorMessage?.hasPrefix("fn") == true)
            let avg = try await t.client.json(.get, "/history/huge/aggregate?\(range)&fn=avg", token: t.adminToken)
            let value = ((avg["buckets"] as? [[String: Any]])?.first?["value"] as? Double) ?? 0
            #expect(abs(value - 1.7e308) / 1.7e308 < 1e-12, "\(avg)")
            let max = try await t.client.json(.get, "/history/huge/aggregate?\(range)&fn=max", token: t.adminToken)
            #expect((max["buckets"] as? [[String: Any]])?.first?["value"] as? Double == 1.7e308)
        }
    }

    @Test("a page of history or of devices stops at about 8 MiB, whatever the limit; the cursor has the rest", arguments: TestBackend.all)
    func boundedPages(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "big", "category": "weather", "connector": "http", "public": true], expect: .created)
            // Near the largest a reading may be, 150 of them: about 9 MiB.
            let blob = String(repeating: "x", count: 60_000)
            for batch in 0..<10 {
                let readings = (0..<15).map { index in
                    ["ts": Timestamp(microseconds: 1_772_359_200_000_000 + Int64(batch * 15 + index) * 1_000_000).description, "values": ["blob": blob]] as [String: Any]
                }
                try await t.client.json(.post, "/devices/big/data", token: t.adminToken, body: readings, expect: .created)
            }
            // Follows the cursor from `first`, each page under 9 MiB; the items of `key` in all, and how many pages.
            func follow(_ first: String, _ key: String, check: ([String: Any]) -> Void = { _ in }) async throws -> (items: Int, pages: Int) {
                var items = 0, pages = 0, uri = first
                while pages < 10 {
                    let page = try await t.client.send(.get, uri)
                    #expect(page.status == .ok)
                    #expect(page.text.utf8.count < 9 << 20, "page of \(page.text.utf8.count) bytes")
                    items += (page[key] as? [Any])?.count ?? 0
                    pages += 1
                    check(page.json as? [String: Any] ?? [:])
                    guard let cursor = page["nextCursor"] as? String else { break }
                    uri = "\(first)&cursor=\(cursor)"
                }
                return (items, pages)
            }
            let (seen, pages) = try await follow("/history?device=big&limit=10000", "readings")
            #expect(seen == 150)
            #expect(pages >= 2)

            // The map's request, devices with their latest readings, is bounded the same way.
            for index in 0..<150 {
                let id = "big-\(index)"
                try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": id, "category": "weather", "connector": "http", "public": true,
                                                                                     "location": ["lat": 39.22, "lon": 9.12]], expect: .created)
                try await t.client.json(.post, "/devices/\(id)/data", token: t.adminToken, body: ["values": ["blob": blob]], expect: .created)
            }
            let (mapped, mapPages) = try await follow("/devices?bbox=9.1,39.2,9.2,39.3&latest=true&limit=1000", "devices") { page in
                // Every device on the page comes with its latest reading, and only those.
                let devices = Set((page["devices"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
                #expect(Set((page["latest"] as? [String: Any] ?? [:]).keys) == devices)
            }
            #expect(mapped == 150)
            #expect(mapPages >= 2)

            // A plain list of devices with large metadata, too.
            let note = String(repeating: "m", count: 15_000)
            for index in 0..<600 {
                try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "sign-\(index)", "category": "signage", "connector": "http",
                                                                                     "public": true, "metadata": ["note": note]], expect: .created)
            }
            let (listed, listPages) = try await follow("/devices?category=signage&limit=1000", "devices")
            #expect(listed == 600)
            #expect(listPages >= 2)
        }
    }

    @Test("an unknown device is 404 on every History route, for every caller", arguments: TestBackend.all)
    func unknownDevice(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let user = try await t.user("ugo")
            let service = try await t.microserviceToken()
            for token in [t.adminToken, service, user.token, nil] as [String?] {
                for uri in ["/history?device=no-such-device", "/history/no-such-device/latest",
                            "/history/no-such-device/aggregate?field=t&fn=avg&bucket=1h"] {
                    let reply = try await t.client.send(.get, uri, token: token)
                    #expect(reply.status == .notFound, "\(uri) as \(token == nil ? "nobody" : "a caller"): \(reply.status)")
                }
            }
            // A device that exists but is not the caller's answers the same as one that does not.
            try await t.client.json(.post, "/devices", token: t.adminToken, body: ["id": "private-one", "category": "weather", "connector": "http"], expect: .created)
            #expect(try await t.client.send(.get, "/history?device=private-one", token: user.token).status == .notFound)
            #expect(try await t.client.send(.get, "/history?device=private-one", token: t.adminToken).status == .ok)
        }
    }

    @Test("a deleted device's readings do not pass to the next owner of its id", arguments: TestBackend.all)
    func deletedDeviceHistory(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let a = try await t.user("anna"), b = try await t.user("boris")
            try await t.client.json(.post, "/devices", token: a.token, body: ["id": "shared-id", "category": "weather", "connector": "http"], expect: .created)
            try await t.client.json(.post, "/devices/shared-id/data", token: a.token,
                                    body: [["ts": "2026-03-01T10:00:00Z", "values": ["t": 1]], ["ts": "2026-03-01T10:01:00Z", "values": ["t": 2]]], expect: .created)
            #expect(try await t.client.json(.get, "/history/shared-id/latest", token: a.token)["values"] != nil)
            try await t.client.json(.delete, "/devices/shared-id", token: a.token, expect: .noContent)

            try await t.client.json(.post, "/devices", token: b.token, body: ["id": "shared-id", "category": "weather", "connector": "http"], expect: .created)
            let page = try await t.client.json(.get, "/history?device=shared-id", token: b.token)
            #expect((page["readings"] as? [Any])?.isEmpty == true)
            #expect(try await t.client.send(.get, "/history/shared-id/latest", token: b.token).status == .notFound)
            let buckets = try await t.client.json(.get, "/history/shared-id/aggregate?field=t&fn=count&bucket=1h&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", token: b.token)
            #expect((buckets["buckets"] as? [Any])?.isEmpty == true, "\(buckets)")
            // The new owner's own readings are theirs.
            try await t.client.json(.post, "/devices/shared-id/data", token: b.token, body: ["values": ["t": 7]], expect: .created)
            #expect(((try await t.client.json(.get, "/history/shared-id/latest", token: b.token)["values"]) as? [String: Any])?["t"] as? Double == 7)
        }
    }

    @Test("history pages in time order with a cursor and honours from/to", arguments: TestBackend.all)
    func paging(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let token = try await Self.seed(t, values: Array(0..<25))
            var seen: [Double] = []
            var cursor: String?
            repeat {
                let page = try await t.client.json(.get, "/history?device=sensor-1&limit=10" + (cursor.map { "&cursor=\($0)" } ?? ""), token: token)
                seen += (page["readings"] as! [[String: Any]]).map { ($0["values"] as! [String: Any])["t"] as! Double }
                cursor = page["nextCursor"] as? String
            } while cursor != nil
            #expect(seen == (0..<25).map(Double.init))

            let window = try await t.client.json(.get, "/history?device=sensor-1&from=2026-03-01T10:05:00Z&to=2026-03-01T10:08:00Z", token: token)
            #expect((window["readings"] as! [[String: Any]]).map { ($0["values"] as! [String: Any])["t"] as! Double } == [5, 6, 7])
            let byCategory = try await t.client.json(.get, "/history?category=weather&connector=http&limit=100", token: token)
            #expect((byCategory["readings"] as! [Any]).count == 25)
            let none = try await t.client.json(.get, "/history?category=parking", token: token)
            #expect((none["readings"] as! [Any]).isEmpty)

            let backwards = try await t.client.send(.get, "/history?device=sensor-1&from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", token: token)
            #expect(backwards.status == .badRequest)
            #expect(backwards.errorMessage?.hasPrefix("from") == true)
            #expect(try await t.client.send(.get, "/history?from=noon", token: token).status == .badRequest)
        }
    }

    @Test("aggregates per bucket match the readings, ignoring values that are not numbers", arguments: TestBackend.all)
    func aggregates(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            // Minutes 0-4 and 5-9 fall in two 5-minute buckets; "n/a" is skipped.
            let token = try await Self.seed(t, values: [1, 2, 3, 4, 10, 5, 7, "n/a", 9, 11])
            let expected: [String: [Double]] = [
                "avg": [4, 8], "min": [1, 5], "max": [10, 11], "sum": [20, 32], "count": [5, 4], "median": [3, 8],
            ]
            for (fn, values) in expected {
                let reply = try await t.client.json(.get, "/history/sensor-1/aggregate?field=t&fn=\(fn)&bucket=5m&from=2026-03-01T10:00:00Z&to=2026-03-01T11:00:00Z", token: token)
                let buckets = reply["buckets"] as! [[String: Any]]
                #expect(buckets.map { $0["value"] as? Double } == values.map { Optional($0) }, "\(fn)")
                #expect(buckets.map { $0["start"] as? String } == ["2026-03-01T10:00:00.000000Z", "2026-03-01T10:05:00.000000Z"])
            }
            for (query, field) in [("fn=mode&field=t", "fn"), ("field=t&bucket=5x", "bucket"), ("fn=avg", "field"),
                                   ("field=t&from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "from")] {
                let reply = try await t.client.send(.get, "/history/sensor-1/aggregate?\(query)", token: token)
                #expect(reply.status == .badRequest, "\(query)")
                #expect(reply.errorMessage?.hasPrefix(field) == true, "\(query): \(reply.text)")
            }
        }
    }

    @Test("the latest reading survives a device going silent and late old readings", arguments: TestBackend.all)
    func latest(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let token = try await Self.seed(t, values: [1, 2, 3])
            try await t.client.json(.post, "/devices/sensor-1/data", token: token, body: ["ts": "2025-12-31T23:59:00Z", "values": ["t": -1]], expect: .created)
            let latest = try await t.client.json(.get, "/history/sensor-1/latest", token: token)
            #expect(latest["ts"] as? String == "2026-03-01T10:02:00.000000Z")
            #expect((latest["values"] as? [String: Any])?["t"] as? Double == 3)
            // Readings from different months (PostgreSQL partitions) come back in one query.
            let all = try await t.client.json(.get, "/history?device=sensor-1", token: token)
            #expect((all["readings"] as! [[String: Any]]).map { ($0["values"] as! [String: Any])["t"] as! Double } == [-1, 1, 2, 3])
        }
    }

    @Test("an acknowledged reading is on disk: a separate connection reads it", arguments: TestBackend.all)
    func durable(backend: TestBackend) async throws {
        try await backend.withDatabase { database in
            let token = try await TestPlatform.run(database: database) { t in try await Self.seed(t, values: [42]) }
            if let sqlite = database as? SQLiteDatabase {
                let other = try await SQLiteDatabase.open(path: sqlite.path, readers: 1)
                let rows = try await other.query("SELECT payload FROM readings WHERE device_id = $1", .text("sensor-1"))
                #expect(rows.count == 1)
                try await other.close()
            }
            try await TestPlatform.run(database: database) { t in
                let latest = try await t.client.json(.get, "/history/sensor-1/latest", token: token)
                #expect((latest["values"] as? [String: Any])?["t"] as? Double == 42)
            }
        }
    }
}
