import CMCCore
import CMCTesting
import Foundation
import Persistence
import Platform
import Testing

/// The scheduler reading real feeds through the real readers into devices and history.
@Suite("Persistence")
struct PersistenceTests {
    static var samples: URL { SampleFeeds.directory }

    /// A sample feed as a feed server publishes it: sources added over the API read only http(s).
    static func file(_ path: String, _ base: String) -> String { "\(base)/files/\(path)" }

    static func status(_ record: [String: Any]) -> [String: Any] { record["status"] as? [String: Any] ?? [:] }

    @Test("GTFS stops become bus-stop devices with their lines, and departures follow the timetable", arguments: TestBackend.all)
    func gtfs(backend: TestBackend) async throws {
        try await FeedServer.run { _, base in
        try await TestPlatform.run(backend) { t in
            try await t.client.json(.post, "/persistence/sources", token: t.adminToken, body: [
                "id": "dta", "kind": "gtfs", "url": Self.file("gtfs/google-sample-feed-1.zip", base), "interval": 3600, "paused": true,
            ], expect: .created)
            let first = Self.status(try await t.client.json(.post, "/persistence/sources/dta/run", token: t.adminToken))
            #expect(first["lastResult"] as? String == "ok")
            #expect(first["devices"] as? Int == 9 && first["devicesChanged"] as? Int == 9)

            let stop = try await t.client.json(.get, "/devices/dta:BEATTY_AIRPORT", token: t.adminToken)
            #expect(stop["category"] as? String == "bus_stop" && stop["connector"] as? String == "gtfs" && stop["public"] as? Bool == true)
            #expect((stop["metadata"] as? [String: Any])?["lines"] as? [String] == ["10", "30", "50"])
            #expect((stop["metadata"] as? [String: Any])?["stopCode"] == nil)  // the feed has no stop_code
            #expect(stop["nickname"] as? String == "Nye County Airport (Demo)")

            // Tuesday 5 June 2007, 07:55 in Los Angeles.
            let next = try await t.client.json(.get, "/devices/dta:BEATTY_AIRPORT/departures?from=2007-06-05T14:55:00Z&limit=2", token: t.adminToken)
            let departures = next["departures"] as? [[String: Any]] ?? []
            // The airport shuttle ends at the airport, so line 10's next morning comes second.
            #expect(departures.map { $0["line"] as? String } == ["10", "10"])
            #expect(departures.map { $0["time"] as? String } == ["2007-06-05T15:00:00.000000Z", "2007-06-06T15:00:00.000000Z"])
            #expect(departures.first?["headsign"] as? String == "to Bullfrog")

            let again = Self.status(try await t.client.json(.post, "/persistence/sources/dta/run", token: t.adminToken))
            #expect(again["devicesChanged"] as? Int == 0 && again["runs"] as? Int == 2)

            let unknown = try await t.client.send(.get, "/devices/nowhere/departures", token: t.adminToken)
            #expect(unknown.status == .notFound && unknown.errorCode == "not_found")
            let badLimit = try await t.client.send(.get, "/devices/dta:BEATTY_AIRPORT/departures?limit=0", token: t.adminToken)
            #expect(badLimit.status == .badRequest && badLimit.errorMessage?.contains("limit") == true)
        }
        }
    }

    @Test("DATEX II parking and traffic: the same observation fetched twice is stored once", arguments: TestBackend.all)
    func datex(backend: TestBackend) async throws {
        try await FeedServer.run { _, base in
        try await TestPlatform.run(backend) { t in
            try await t.client.json(.post, "/persistence/sources", token: t.adminToken, body: [
                "id": "aachen", "kind": "datex2-parking", "paused": true,
                "sitesUrl": Self.file("datex2/parking/aachen-static.xml", base), "url": Self.file("datex2/parking/aachen-realtime.xml", base),
            ], expect: .created)
            let first = Self.status(try await t.client.json(.post, "/persistence/sources/aachen/run", token: t.adminToken))
            #expect(first["devices"] as? Int == 17 && first["observations"] as? Int == 17 && first["stored"] as? Int == 17)
            let second = Self.status(try await t.client.json(.post, "/persistence/sources/aachen/run", token: t.adminToken))
            #expect(second["stored"] as? Int == 0 && second["duplicates"] as? Int == 17)

            let latest = try await t.client.json(.get, "/history/aachen:P1/latest", token: t.adminToken)
            let values = latest["values"] as? [String: Any] ?? [:]
            #expect(values["free"] as? Int == 412 && values["occupied"] as? Int == 148 && values["capacity"] as? Int == 560)
            #expect(latest["connector"] as? String == "datex2" && latest["category"] as? String == "parking")
            let history = try await t.client.json(.get, "/history?device=aachen:P1", token: t.adminToken)
            #expect((history["readings"] as? [Any])?.count == 1)

            try await t.client.json(.post, "/persistence/sources", token: t.adminToken, body: [
                "id": "loops", "kind": "datex2-traffic", "paused": true,
                "sitesUrl": Self.file("fixtures/traffic-sites.xml", base),
                "url": Self.file("fixtures/traffic-measurements.xml", base),
            ], expect: .created)
            let loops = Self.status(try await t.client.json(.post, "/persistence/sources/loops/run", token: t.adminToken))
            #expect(loops["stored"] as? Int == 2)
            #expect(loops["skipped"] as? [String: Int] == ["dataError": 1])
            let loop = try await t.client.json(.get, "/history/loops:loop-01/latest", token: t.adminToken)
            #expect(loop["values"] as? [String: Double] == ["flow": 1200, "speed": 40.5])
            let device = try await t.client.json(.get, "/devices/loops:loop-01", token: t.adminToken)
            #expect(device["category"] as? String == "traffic" && (device["location"] as? [String: Double])?["lat"] == 39.2186)
        }
        }
    }

    @Test("GBFS over HTTP: discovery, stations with availability by model, free-floating cars, static changes", arguments: TestBackend.all)
    func gbfs(backend: TestBackend) async throws {
        try await FeedServer.run { server, base in
            try await TestPlatform.run(backend) { t in
                try await t.client.json(.post, "/persistence/sources", token: t.adminToken, body: [
                    "id": "playcar", "kind": "gbfs", "category": "carsharing", "vehicles": true, "paused": true, "url": "\(base)/gbfs/gbfs.json",
                ], expect: .created)
                let run = Self.status(try await t.client.json(.post, "/persistence/sources/playcar/run", token: t.adminToken))
                #expect(run["lastResult"] as? String == "ok", "\(run)")
                #expect(run["devices"] as? Int == 3 && run["stored"] as? Int == 3)
                #expect(run["skipped"] as? [String: Int] == ["status of an unlisted station": 1])

                let poetto = try await t.client.json(.get, "/history/playcar:poetto/latest", token: t.adminToken)
                let values = poetto["values"] as? [String: Any] ?? [:]
                #expect(values["vehiclesAvailable"] as? Int == 3 && values["vehiclesReserved"] as? Int == 1 && values["docksAvailable"] as? Int == 3)
                #expect(values["availableByType"] as? [String: Int] == ["Renault Clio": 2, "Renault Zoe": 1])
                let station = try await t.client.json(.get, "/devices/playcar:poetto", token: t.adminToken)
                #expect(station["nickname"] as? String == "Poetto - Ospedale Marino")
                #expect((station["metadata"] as? [String: Any])?["capacity"] as? Int == 6)
                let car = try await t.client.json(.get, "/devices/playcar:car-17", token: t.adminToken)
                #expect(car["category"] as? String == "carsharing_vehicle" && car["nickname"] as? String == "Renault Zoe")

                // The station's capacity changes in the feed: the device follows; a station that leaves the feed stays.
                var information = try String(contentsOf: FeedServer.fixtures.appendingPathComponent("gbfs/station_information.json"), encoding: .utf8)
                information = information.replacingOccurrences(of: "\"capacity\": 6", with: "\"capacity\": 8")
                information = information.replacingOccurrences(of: #"{"station_id": "stazione""#, with: #"{"station_id": "stazione2""#)
                server.documents.withLockedValue { $0["gbfs/station_information.json"] = information }
                let changed = Self.status(try await t.client.json(.post, "/persistence/sources/playcar/run", token: t.adminToken))
                #expect(changed["devicesChanged"] as? Int == 2)  // poetto changed, stazione2 new
                let updated = try await t.client.json(.get, "/devices/playcar:poetto", token: t.adminToken)
                #expect((updated["metadata"] as? [String: Any])?["capacity"] as? Int == 8)
                try await t.client.json(.get, "/devices/playcar:stazione", token: t.adminToken)
                let kept = try await t.client.json(.get, "/history/playcar:stazione/latest", token: t.adminToken)
                #expect((kept["values"] as? [String: Any])?["vehiclesAvailable"] as? Int == 0)
            }
        }
    }

    @Test("feeds as cities publish them: a DATEX II facility status alone, a GBFS station that fails its schema, files of the wrong kind named with their URL",
          arguments: TestBackend.all)
    func feedsAsPublished(backend: TestBackend) async throws {
        try await FeedServer.run { server, base in
            try await TestPlatform.run(backend) { t in
                func run(_ source: [String: Any]) async throws -> [String: Any] {
                    try await t.client.json(.post, "/persistence/sources", token: t.adminToken, body: source.merging(["paused": true]) { a, _ in a }, expect: .created)
                    return Self.status(try await t.client.json(.post, "/persistence/sources/\(source["id"]!)/run", token: t.adminToken))
                }
                // The facility model's status that carries its table needs no sitesUrl.
                let halls = try await run(["id": "halls", "kind": "datex2-parking", "url": Self.file("fixtures/parking-facilities-with-table.xml", base)])
                #expect(halls["lastResult"] as? String == "ok" && halls["devices"] as? Int == 2 && halls["stored"] as? Int == 2, "\(halls)")
                let hall = try await t.client.json(.get, "/history/halls:HALL.2/latest", token: t.adminToken)
                #expect((hall["values"] as? [String: Any])?["free"] as? Int == 6)
                // Table and status apart, the status's ids suffixed with the facility's name.
                let city = try await run(["id": "city", "kind": "datex2-parking", "sitesUrl": Self.file("fixtures/parking-facilities-table.xml", base),
                                          "url": Self.file("fixtures/parking-facilities-status.xml", base)])
                #expect(city["stored"] as? Int == 3, "\(city)")
                #expect((city["skipped"] as? [String: Int])?["status of a site not in the table"] == 1)
                let north = try await t.client.json(.get, "/history/city:1035/latest", token: t.adminToken)
                #expect((north["values"] as? [String: Any])?["occupancy"] as? Int == 45)
                // A status without its table and without sitesUrl says what it needs.
                let alone = try await run(["id": "alone", "kind": "datex2-parking", "url": Self.file("fixtures/parking-facilities-status.xml", base)])
                #expect((alone["lastError"] as? String)?.hasPrefix("url \(base)/files/fixtures/parking-facilities-status.xml: ") == true, "\(alone)")
                #expect((alone["lastError"] as? String)?.contains("give sitesUrl") == true)
                // A sitesUrl whose file holds no table is named as the file at fault.
                let swapped = try await run(["id": "swapped", "kind": "datex2-parking", "sitesUrl": Self.file("fixtures/parking-facilities-status.xml", base),
                                             "url": Self.file("fixtures/parking-facilities-status.xml", base)])
                #expect(swapped["lastError"] as? String
                        == "sitesUrl \(base)/files/fixtures/parking-facilities-status.xml: the ParkingFacilityTableStatusPublication carries no parking sites", "\(swapped)")

                // A zip where the site table belongs, JSON where GTFS belongs: the field, the URL, what the file looks like.
                let zip = try await run(["id": "zipped", "kind": "datex2-parking", "sitesUrl": Self.file("gtfs/google-sample-feed-1.zip", base) + "?key=secret",
                                         "url": Self.file("fixtures/parking-facilities-status.xml", base)])
                let zipError = zip["lastError"] as? String ?? ""
                #expect(zipError.hasPrefix("sitesUrl \(base)/files/gtfs/google-sample-feed-1.zip?…: not XML: it looks like a zip archive"), "\(zipError)")
                #expect(!zipError.contains("secret"))
                server.blobs.withLockedValue { $0["stops.json"] = Array(#"{"stops": [{"id": 1}]}"#.utf8) }
                let json = try await run(["id": "notzip", "kind": "gtfs", "url": Self.file("stops.json", base)])
                #expect(json["lastError"] as? String == "url \(base)/files/stops.json: not a GTFS zip archive: it looks like a JSON document (22 bytes)", "\(json)")
                let missing = try await run(["id": "gone", "kind": "datex2-parking", "url": "\(base)/status/404"])
                #expect(missing["lastError"] as? String == "url: \(base)/status/404 answered HTTP 404", "\(missing)")

                // One station with a string for a count, one without is_renting: the other station is read.
                var status = try String(contentsOf: FeedServer.fixtures.appendingPathComponent("gbfs/station_status.json"), encoding: .utf8)
                status = status.replacingOccurrences(of: #""num_vehicles_available": 0,"#, with: #""num_vehicles_available": "0","#)
                status = status.replacingOccurrences(of: #""num_vehicles_available": 1, "is_installed": true, "is_renting": true,"#,
                                                     with: #""num_vehicles_available": 1, "is_installed": true,"#)
                server.documents.withLockedValue { $0["gbfs/station_status.json"] = status }
                let bikes = try await run(["id": "bikes", "kind": "gbfs", "url": "\(base)/gbfs/gbfs.json"])
                #expect(bikes["lastResult"] as? String == "ok" && bikes["devices"] as? Int == 2 && bikes["stored"] as? Int == 1, "\(bikes)")
                #expect(bikes["skipped"] as? [String: Int] == [
                    "station_status entries failing the GBFS 3.0 schema: num_vehicles_available: must be integer, found a string": 1,
                    "station_status entries failing the GBFS 3.0 schema: is_renting is required": 1,
                ], "\(bikes)")
                #expect((bikes["warnings"] as? [String])?.contains("station_status stations[1] station_id stazione left out: num_vehicles_available: must be integer, found a string") == true,
                        "\(bikes)")
                try await t.client.json(.get, "/history/bikes:poetto/latest", token: t.adminToken)
            }
        }
    }

    @Test("HTTP errors, time-outs, damaged files and bad credentials are reported per source; the others keep running", arguments: TestBackend.all)
    func failures(backend: TestBackend) async throws {
        try await FeedServer.run { server, base in
            var configuration = TestPlatform.configuration()
            configuration.logLevel = .critical
            try await TestPlatform.run(backend, configuration: configuration) { t in
                let zip = try Data(contentsOf: Self.samples.appendingPathComponent("gtfs/google-sample-feed-1.zip"))
                server.blobs.withLockedValue { $0["damaged.zip"] = Array(zip.prefix(zip.count / 2)) }

                // A good source first, so there is something that must not be lost.
                try await t.client.json(.post, "/persistence/sources", token: t.adminToken, body: [
                    "id": "dta", "kind": "gtfs", "url": Self.file("gtfs/google-sample-feed-1.zip", base), "paused": true,
                ], expect: .created)
                try await t.client.json(.post, "/persistence/sources/dta/run", token: t.adminToken)

                let sources: [[String: Any]] = [
                    ["id": "broken", "kind": "datex2-parking", "interval": 1, "url": "\(base)/status/500", "sitesUrl": "\(base)/status/500"],
                    ["id": "slow", "kind": "json", "interval": 1, "timeout": 1, "url": "\(base)/slow", "mapping": ["id": "id", "values": ["v": "v"]]],
                    ["id": "keyless", "kind": "json", "interval": 1, "url": "\(base)/auth", "mapping": ["id": "id", "values": ["v": "v"]],
                     "credentials": ["header": "X-Api-Key", "environment": "CMC_SOURCE_TEST_UNSET"]],
                    ["id": "steady", "kind": "datex2-parking", "interval": 1,
                     "sitesUrl": Self.file("datex2/parking/aachen-static.xml", base), "url": Self.file("datex2/parking/aachen-realtime.xml", base)],
                ]
                for source in sources { try await t.client.json(.post, "/persistence/sources", token: t.adminToken, body: source, expect: .created) }
                // The damaged zip replaces the good one: the run fails, the stops stay.
                try await t.client.json(.put, "/persistence/sources/dta", token: t.adminToken, body: [
                    "id": "dta", "kind": "gtfs", "url": "\(base)/files/damaged.zip", "interval": 1,
                ])

                var byID: [String: [String: Any]] = [:]
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline {
                    let list = try await t.client.json(.get, "/persistence/sources", token: t.adminToken)
                    byID = Dictionary(uniqueKeysWithValues: (list["sources"] as? [[String: Any]] ?? []).map {
                        (($0["source"] as? [String: Any])?["id"] as? String ?? "", Self.status($0))
                    })
                    let slowFailed = byID["slow"]?["lastResult"] as? String == "failed"
                    let steadyRuns = byID["steady"]?["runs"] as? Int ?? 0
                    let brokenFailures = byID["broken"]?["consecutiveFailures"] as? Int ?? 0
                    if slowFailed && steadyRuns >= 3 && brokenFailures >= 2 && byID["dta"]?["lastResult"] as? String == "failed"
                        && byID["keyless"]?["lastResult"] as? String == "failed" { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect((byID["broken"]?["lastError"] as? String)?.contains("answered HTTP 500") == true, "\(byID["broken"] ?? [:])")
                #expect((byID["slow"]?["lastError"] as? String)?.contains("1 s") == true, "\(byID["slow"] ?? [:])")
                #expect((byID["dta"]?["lastError"] as? String)?.contains("zip") == true, "\(byID["dta"] ?? [:])")
                #expect(byID["keyless"]?["lastError"] as? String == "url: the credentials variable CMC_SOURCE_TEST_UNSET is not set")
                // The slow source's hanging requests never held the steady one back.
                #expect((byID["steady"]?["runs"] as? Int ?? 0) >= 3 && byID["steady"]?["lastResult"] as? String == "ok")
                // Backoff: after failures the next run is at least twice the interval away.
                let broken = byID["broken"] ?? [:]
                if let last = (broken["lastRunAt"] as? String).flatMap(Timestamp.init(parsing:)),
                   let next = (broken["nextRunAt"] as? String).flatMap(Timestamp.init(parsing:)) {
                    #expect(next.microseconds - last.microseconds >= 1_800_000 * Int64(min(broken["consecutiveFailures"] as? Int ?? 1, 2)))
                } else {
                    Issue.record("no run times: \(broken)")
                }
                let stop = try await t.client.send(.get, "/devices/dta:BEATTY_AIRPORT", token: t.adminToken)
                #expect(stop.status == .ok)
                #expect(server.requests.withLockedValue { $0.contains { $0.hasPrefix("auth") } } == false)
            }
        }
    }

    @Test("a feed's reading that fails the checks every reading passes is refused and counted, the others stored", arguments: TestBackend.all)
    func invalidFeedReadings(backend: TestBackend) async throws {
        try await FeedServer.run { server, base in
            try await TestPlatform.run(backend) { t in
                // A clock a year ahead, a value name no reading may have, and one good item.
                let items = #"[{"id": "ahead", "t": "\#(Timestamp(microseconds: Timestamp.now().microseconds + 365 * 86_400_000_000))", "v": 1},"#
                    + #"{"id": "named", "t": "2026-01-01T00:00:00Z", "v": 2, "bad": 3}, {"id": "good", "t": "2026-01-01T00:00:00Z", "v": 4}]"#
                server.blobs.withLockedValue { $0["items.json"] = Array(items.utf8) }
                try await t.client.json(.post, "/persistence/sources", token: t.adminToken, body: [
                    "id": "checked", "kind": "json", "paused": true, "url": "\(base)/files/items.json",
                    "mapping": ["id": "id", "time": "t", "values": ["v": "v", "not a name": "bad"]],
                ], expect: .created)
                let run = Self.status(try await t.client.json(.post, "/persistence/sources/checked/run", token: t.adminToken))
                #expect(run["stored"] as? Int == 1, "\(run)")
                #expect((run["skipped"] as? [String: Int])?["invalid reading"] == 2, "\(run)")
                let latest = try await t.client.json(.get, "/history/checked:good/latest", token: t.adminToken)
                #expect((latest["values"] as? [String: Any])?["v"] as? Int == 4, "\(latest)")
                #expect(try await t.client.send(.get, "/history/checked:ahead/latest", token: t.adminToken).status == .notFound)
            }
        }
    }

    @Test("operators add, change, pause, resume and remove sources; bad input names the field", arguments: TestBackend.all)
    func management(backend: TestBackend) async throws {
        try await FeedServer.run { _, base in
        try await TestPlatform.run(backend) { t in
            let citizen = try await t.user("cira")
            let operatorUser = try await t.user("otto", role: .operator)
            let source: [String: Any] = ["id": "aachen", "kind": "datex2-parking", "interval": 300, "paused": true,
                                         "sitesUrl": Self.file("datex2/parking/aachen-static.xml", base), "url": Self.file("datex2/parking/aachen-realtime.xml", base)]
            #expect(try await t.client.send(.post, "/persistence/sources", token: citizen.token, body: source).status == .forbidden)
            #expect(try await t.client.send(.get, "/persistence/sources", token: citizen.token).status == .forbidden)
            let created = try await t.client.json(.post, "/persistence/sources", token: operatorUser.token, body: source, expect: .created)
            #expect(created["origin"] as? String == "api")
            #expect((created["source"] as? [String: Any])?["category"] as? String == "parking")
            let duplicate = try await t.client.send(.post, "/persistence/sources", token: operatorUser.token, body: source)
            #expect(duplicate.status == .conflict)

            func refused(_ body: [String: Any], _ field: String) async throws {
                let reply = try await t.client.send(.post, "/persistence/sources", token: operatorUser.token, body: body)
                #expect(reply.status == .badRequest, "\(body)")
                #expect(reply.errorMessage?.contains(field) == true, "\(reply.text)")
            }
            try await refused(["id": "x", "kind": "datex2-traffic", "url": "https://example.org/measurements.xml"], "sitesUrl")
            try await refused(["id": "x", "kind": "ftp", "url": "https://example.org/a"], "kind")
            try await refused(["id": "x", "kind": "gtfs", "url": "ftp://example.org/a.zip"], "url")
            try await refused(["id": "X Y", "kind": "gtfs", "url": "https://example.org/a.zip"], "id")
            try await refused(["id": "x", "kind": "gtfs", "url": "https://example.org/a.zip", "interval": 0], "interval")
            try await refused(["id": "x", "kind": "gtfs", "url": "https://example.org/a.zip", "intervall": 60], "intervall")
            try await refused(["id": "x", "kind": "gtfs-rt", "url": "https://example.org/tu.pb"], "schedule")
            try await refused(["id": "x", "kind": "json", "url": "https://example.org/a.json"], "mapping")

            var changed = source
            changed["interval"] = 120
            let replaced = try await t.client.json(.put, "/persistence/sources/aachen", token: operatorUser.token, body: changed)
            #expect((replaced["source"] as? [String: Any])?["interval"] as? Int == 120)
            changed["id"] = "other"
            #expect(try await t.client.send(.put, "/persistence/sources/aachen", token: operatorUser.token, body: changed).status == .badRequest)

            let resumed = try await t.client.json(.post, "/persistence/sources/aachen/resume", token: operatorUser.token)
            #expect((resumed["source"] as? [String: Any])?["paused"] as? Bool == false)
            // Resumed sources run at once.
            var runs = 0
            let deadline = ContinuousClock.now + .seconds(10)
            while runs == 0, ContinuousClock.now < deadline {
                runs = Self.status(try await t.client.json(.get, "/persistence/sources/aachen", token: operatorUser.token))["runs"] as? Int ?? 0
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(runs >= 1)
            let paused = try await t.client.json(.post, "/persistence/sources/aachen/pause", token: operatorUser.token)
            #expect((paused["source"] as? [String: Any])?["paused"] as? Bool == true)
            #expect(Self.status(paused)["nextRunAt"] == nil)

            #expect(try await t.client.send(.delete, "/persistence/sources/aachen", token: operatorUser.token).status == .noContent)
            #expect(try await t.client.send(.get, "/persistence/sources/aachen", token: operatorUser.token).status == .notFound)
            #expect(try await t.client.send(.post, "/persistence/sources/aachen/run", token: operatorUser.token).status == .notFound)
            // What it stored stays.
            #expect(try await t.client.send(.get, "/devices/aachen:P1", token: t.adminToken).status == .ok)
        }
        }
    }

    @Test("sources declared in connectors/ are loaded at start; a bad file is refused by name", arguments: TestBackend.all)
    func files(backend: TestBackend) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cmc-connectors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(#"{"id": "aachen", "kind": "datex2-parking", "interval": 600, "sitesUrl": "file:aachen-static.xml", "url": "file:aachen-realtime.xml"}"#.utf8)
            .write(to: directory.appendingPathComponent("aachen.json"))
        for name in ["aachen-static.xml", "aachen-realtime.xml"] {
            try FileManager.default.copyItem(at: Self.samples.appendingPathComponent("datex2/parking/\(name)"), to: directory.appendingPathComponent(name))
        }
        var configuration = TestPlatform.configuration()
        configuration.connectorsDirectory = directory
        try await TestPlatform.run(backend, configuration: configuration) { t in
            var record: [String: Any] = [:]
            let deadline = ContinuousClock.now + .seconds(10)
            while Self.status(record)["lastResult"] == nil, ContinuousClock.now < deadline {
                record = (try? await t.client.json(.get, "/persistence/sources/aachen", token: t.adminToken)) ?? [:]
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(record["origin"] as? String == "file")
            #expect(Self.status(record)["lastResult"] as? String == "ok" && Self.status(record)["stored"] as? Int == 17, "\(record)")
        }

        try Data(#"{"id": "bad", "kind": "datex2-traffic", "url": "file:x.xml"}"#.utf8).write(to: directory.appendingPathComponent("bad.json"))
        #expect(throws: SourceFileError.self) { try SourceFiles.load(directory: directory) }
        do {
            _ = try SourceFiles.load(directory: directory)
        } catch {
            #expect("\(error)" == "connectors/bad.json: sitesUrl: is required for datex2-traffic: the DATEX II site table")
        }
    }

    @Test("sources added over the API fetch only public http(s) addresses, redirects included, and read only CMC_SOURCE_ variables; declared files stay in connectors/",
          arguments: [TestBackend.sqlite])
    func outboundPolicy(backend: TestBackend) async throws {
        try await FeedServer.run { server, base in
            let port = base.split(separator: ":").last.map(String.init) ?? ""
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cmc-escape-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            try Data(#"{"id": "escape", "kind": "json", "interval": 600, "url": "file:../../../../../../../etc/hostname", "mapping": {"id": "id", "values": {"v": "v"}}}"#.utf8)
                .write(to: directory.appendingPathComponent("escape.json"))
            // Read by the platform when it starts.
            let key = "CMC_SOURCE_TEST_KEY_\(UUID().uuidString.prefix(6))"
            setenv(key, "sesame", 1)
            var configuration = TestPlatform.configuration()
            configuration.connectorsDirectory = directory
            // The feed server's own address is allowed by name; 127.0.0.2, the same machine, is not.
            configuration.outbound = .init(allowedHosts: ["127.0.0.1:\(port)", "localhost:\(port)"])
            try await TestPlatform.run(backend, configuration: configuration) { t in
                let mapping: [String: Any] = ["id": "id", "values": ["v": "v"]]
                func refused(_ body: [String: Any], _ field: String) async throws {
                    let reply = try await t.client.send(.post, "/persistence/sources", token: t.adminToken, body: body)
                    #expect(reply.status == .badRequest, "\(body)")
                    #expect(reply.errorMessage?.hasPrefix(field) == true, "\(reply.text)")
                }
                try await refused(["id": "shadow", "kind": "json", "url": "file:///etc/shadow", "mapping": mapping], "url")
                try await refused(["id": "up", "kind": "json", "url": "file:../../../etc/hostname", "mapping": mapping], "url")
                try await refused(["id": "env", "kind": "json", "url": "\(base)/auth", "mapping": mapping,
                                   "credentials": ["header": "X-Api-Key", "environment": "CMC_ADMIN_PASSWORD"]], "credentials.environment")

                func run(_ id: String, _ url: String, credentials: [String: Any]? = nil) async throws -> [String: Any] {
                    var body: [String: Any] = ["id": id, "kind": "json", "url": url, "mapping": mapping, "paused": true]
                    body["credentials"] = credentials
                    try await t.client.json(.post, "/persistence/sources", token: t.adminToken, body: body, expect: .created)
                    return Self.status(try await t.client.json(.post, "/persistence/sources/\(id)/run", token: t.adminToken))
                }
                for (id, url) in [("loopback", "http://127.0.0.2:\(port)/auth"), ("hex", "http://0x7f000002:\(port)/auth"),
                                  ("metadata", "http://169.254.169.254/latest/meta-data/"),
                                  ("moved", "\(base)/redirect?to=http://127.0.0.2:\(port)/auth")] {
                    let status = try await run(id, url)
                    #expect(status["lastResult"] as? String == "failed", "\(id): \(status)")
                    #expect((status["lastError"] as? String)?.contains("public addresses") == true, "\(id): \(status)")
                }
                #expect(server.requests.withLockedValue { $0.filter { $0.hasPrefix("auth") } }.isEmpty, "nothing reached the refused address")

                // A redirect to another origin loses the source's credentials on the way.
                let moved = try await run("moved-away", "\(base)/redirect?to=http://localhost:\(port)/auth", credentials: ["header": "X-Api-Key", "environment": key, "prefix": "Bearer "])
                #expect(moved["lastResult"] as? String == "failed", "\(moved)")
                #expect(server.requests.withLockedValue { $0 } .contains("auth -"), "\(server.requests.withLockedValue { $0 })")

                // The declared source may read files, only inside connectors/.
                let escape = Self.status(try await t.client.json(.post, "/persistence/sources/escape/run", token: t.adminToken))
                #expect(escape["lastResult"] as? String == "failed")
                #expect((escape["lastError"] as? String)?.contains("inside connectors/") == true, "\(escape)")
            }
        }
    }

    @Test("a GBFS discovery file's links get the source's credentials only at the discovery file's own origin", arguments: [TestBackend.sqlite])
    func gbfsCredentialsStayHome(backend: TestBackend) async throws {
        try await FeedServer.run { server, base in
            let port = base.split(separator: ":").last.map(String.init) ?? ""
            // The discovery file on 127.0.0.1 sends the station files to another origin (localhost).
            let discovery = try String(contentsOf: FeedServer.fixtures.appendingPathComponent("gbfs/gbfs.json"), encoding: .utf8)
            server.documents.withLockedValue { $0["gbfs/gbfs.json"] = discovery.replacingOccurrences(of: "{base}", with: "http://localhost:\(port)/gbfs") }
            let key = "CMC_SOURCE_TEST_GBFS_\(UUID().uuidString.prefix(6))"
            setenv(key, "sesame", 1)
            var configuration = TestPlatform.configuration()
            configuration.outbound = .init(allowedHosts: ["127.0.0.1", "localhost"])
            try await TestPlatform.run(backend, configuration: configuration) { t in
                try await t.client.json(.post, "/persistence/sources", token: t.adminToken, body: [
                    "id": "bikes", "kind": "gbfs", "paused": true, "url": "\(base)/gbfs/gbfs.json",
                    "credentials": ["header": "X-Api-Key", "environment": key],
                ], expect: .created)
                let status = Self.status(try await t.client.json(.post, "/persistence/sources/bikes/run", token: t.adminToken))
                #expect(status["lastResult"] as? String == "ok", "\(status)")
                let requests = server.requests.withLockedValue { $0 }
                #expect(requests.contains("gbfs/gbfs.json with key"), "\(requests)")
                #expect(requests.contains("gbfs/station_information.json"), "\(requests)")
                #expect(!requests.contains { $0.hasPrefix("gbfs/station") && $0.hasSuffix("with key") }, "\(requests)")
            }
        }
    }
}
