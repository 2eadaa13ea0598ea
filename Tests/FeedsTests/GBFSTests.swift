import CMCCore
import Foundation
import Testing
@testable import Feeds

@Suite struct GBFSTests {
    func document(_ path: String) throws -> GBFSDocument {
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let file = name.split(separator: "-").first.map(String.init) ?? name
        return try GBFSDocument(file: file, data: FeedSamples.data("gbfs/\(path)"))
    }

    /// The files the platform reads data from are checked against their schemas. Discovery is read
    /// for its links only: the specification's own examples of it omit feeds its schema requires.
    @Test(arguments: ["v2.3", "v3.0"])
    func everyDataSampleConformsToItsSchema(version: String) throws {
        let folder = FeedSamples.samples.appendingPathComponent("gbfs/\(version)")
        let read = ["station_information", "station_status", "vehicle_types", "free_bike_status", "vehicle_status"]
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { file in read.contains { file.hasPrefix($0) } }
        #expect(files.count == (version == "v2.3" ? 6 : 7))
        for file in files {
            let document = try document("\(version)/\(file)")
            #expect(document.version == String(version.dropFirst()))
            #expect(GBFSSchemas.schema(file: document.file, version: document.version) != nil)
        }
    }

    @Test func discoveryListsTheFeeds() throws {
        let v2 = try GBFSFeed.discovery(document("v2.3/gbfs.json"), language: "fr")
        #expect(v2["station_information"] == "https://www.example.com/gbfs/1/fr/station_information")
        let v3 = try GBFSFeed.discovery(document("v3.0/gbfs.json"))
        #expect(v3["station_information"] == "https://www.example.com/gbfs/1/station_information")
    }

    @Test func stationsAndTheirStatus() throws {
        let types = GBFSFeed.vehicleTypes(try document("v2.3/vehicle_types.json"))
        #expect(types["car1"]?.label == "Renault Clio")
        let stations = GBFSFeed.stations(try document("v2.3/station_information-1.json"), category: "carsharing", types: types)
        #expect(stations.map(\.id) == ["pga"])
        #expect(stations[0].name == "Parking garage A" && stations[0].lat == 12.345678 && stations[0].lon == 45.678901)
        guard case .object(let capacity)? = stations[0].metadata["capacityByType"] else { Issue.record("no capacity by type"); return }
        #expect(capacity.values.map(\.number).sorted { $0! < $1! } == [7, 9])

        let v2 = GBFSFeed.statuses(try document("v2.3/station_status.json"), types: types, vehicles: try document("v2.3/free_bike_status-1.json"))
        #expect(v2.map(\.device) == ["station1", "station2"])
        #expect(v2[0].values["vehiclesAvailable"] == .number(1))
        #expect(v2[0].values["docksAvailable"] == .number(3))
        #expect(v2[0].values["vehiclesReserved"] == .number(0))
        #expect(v2[1].values["vehiclesAvailable"] == .number(6))
        #expect(v2[0].time == Timestamp(microseconds: 1_609_866_125_000_000))

        let v3 = GBFSFeed.statuses(try document("v3.0/station_status.json"))
        #expect(v3.map { $0.values["vehiclesAvailable"] } == [.number(1), .number(6)])
        #expect(v3[0].time == Timestamp(parsing: "2023-07-17T13:34:13+02:00"))

        let localized = GBFSFeed.stations(try document("v3.0/station_information-2.json"), category: "bikesharing")
        #expect(localized.first?.name == "SE Belmont & SE 10th")
    }

    @Test func freeFloatingVehicles() throws {
        let v3 = GBFSFeed.freeVehicles(try document("v3.0/vehicle_status-1.json"), category: "bikesharing_vehicle",
                                       types: GBFSFeed.vehicleTypes(try document("v3.0/vehicle_types.json")))
        // One vehicle is free-floating; the other is docked at station 86.
        #expect(v3.devices.map(\.id) == ["973a5c94-c288-4a2b-afa6-de8aeb6ae2e5"])
        #expect(v3.devices[0].name == "Example Basic Bike")
        #expect(v3.observations[0].values["reserved"] == .bool(false))
    }

    @Test func aStationThatFailsItsSchemaIsLeftOutAndTheCityIsRead() throws {
        var text = String(decoding: try FeedSamples.data("gbfs/v3.0/station_status.json"), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"num_vehicles_available\": 1,", with: "\"num_vehicles_available\": -1,")
        let whole = try GBFSDocument(file: "station_status", data: FeedSamples.data("gbfs/v3.0/station_status.json"))
        let document = try GBFSDocument(file: "station_status", data: Data(text.utf8))
        #expect(document.list("stations").count == whole.list("stations").count - 1)
        #expect(document.invalid == ["station_status entries failing the GBFS 3.0 schema: num_vehicles_available: must be at least 0, found -1": 1])
        let station = whole.list("stations")[0]["station_id"]?.text ?? ""
        #expect(document.examples == ["station_status stations[0] station_id \(station) left out: num_vehicles_available: must be at least 0, found -1"])

        // A string where a count belongs, a missing is_renting: both left out, each reason counted.
        var v23 = try JSONSerialization.jsonObject(with: FeedSamples.data("gbfs/v2.3/station_status.json")) as! [String: Any]
        var data = v23["data"] as! [String: Any]
        var stations = data["stations"] as! [[String: Any]]
        let total = stations.count
        stations[0]["num_bikes_available"] = "3"
        stations[1]["is_renting"] = nil
        data["stations"] = stations
        v23["data"] = data
        let mixed = try GBFSDocument(file: "station_status", data: JSONSerialization.data(withJSONObject: v23))
        #expect(mixed.list("stations").count == total - 2)
        #expect(mixed.invalid == ["station_status entries failing the GBFS 2.3 schema: num_bikes_available: must be integer, found a string": 1,
                                  "station_status entries failing the GBFS 2.3 schema: is_renting is required": 1])
        #expect(GBFSFeed.statuses(mixed).count == total - 2)

        // What is wrong outside the entries still refuses the file, naming the path.
        let wrongTime = #expect(throws: FeedError.self) {
            try GBFSDocument(file: "station_status", data: Data(#"{"version":"3.0","ttl":0,"last_updated":1640887163,"data":{"stations":[]}}"#.utf8))
        }
        #expect(wrongTime?.message.contains("last_updated") == true)
        let json = #expect(throws: FeedError.self) { try GBFSDocument(file: "station_status", data: Data("[1,2".utf8)) }
        #expect(json?.message == "station_status: malformed JSON (4 bytes)")
        let page = #expect(throws: FeedError.self) { try GBFSDocument(file: "gbfs", data: Data("<!DOCTYPE html><html>502</html>".utf8)) }
        #expect(page?.message.hasPrefix("gbfs: not JSON: it looks like an HTML page") == true)
    }

    @Test func filesOfDifferentVersionsAreEachCheckedAgainstTheirOwn() throws {
        let information = try document("v3.0/station_information-1.json")
        let status = try document("v2.3/station_status.json")
        #expect(information.checked && status.checked)
        var unknown = try JSONSerialization.jsonObject(with: FeedSamples.data("gbfs/v2.3/vehicle_types.json")) as! [String: Any]
        unknown["version"] = "2.2"
        let types = try GBFSDocument(file: "vehicle_types", data: JSONSerialization.data(withJSONObject: unknown))
        #expect(!types.checked)
        var batch = FeedBatch()
        GBFSFeed.report([information, status, types], into: &batch)
        #expect(batch.warnings == [
            "the files declare different GBFS versions (station_information 3.0, station_status 2.3, vehicle_types 2.2): each was checked against its own version's schema",
            "vehicle_types declares GBFS 2.2, for which no schema is shipped (2.3, 3.0): read without a check",
        ])
        // A v2.3 status read with v3.0 stations: the readers take either shape.
        #expect(!GBFSFeed.statuses(status).isEmpty && !GBFSFeed.stations(information, category: "bikesharing").isEmpty)
    }

    @Test func schemaKeywords() throws {
        let schema = try JSONSchema(data: Data(#"""
        {"type":"object","required":["a"],"properties":{"a":{"type":"integer","minimum":1},"b":{"enum":["x","y"]},
         "c":{"type":"array","minItems":1,"items":{"type":"string","pattern":"^[a-z]+$"}}},
         "anyOf":[{"required":["b"]},{"required":["c"]}],"additionalProperties":false}
        """#.utf8))
        #expect(schema.violations(of: .object(["a": .number(2), "b": .string("x")])).isEmpty)
        #expect(schema.violations(of: .object(["a": .number(1.5), "b": .string("x")])) == ["$.a: must be integer, found a number"])
        #expect(schema.violations(of: .object(["a": .number(1), "c": .array([.string("A")])])) == ["$.c[0]: must match ^[a-z]+$, found \"A\""])
        #expect(schema.violations(of: .object(["a": .number(1)])) == ["$: matches none of the allowed forms"])
        #expect(schema.violations(of: .object(["a": .number(1), "b": .string("x"), "z": .null])) == ["$: z is not an allowed member"])
    }
}
