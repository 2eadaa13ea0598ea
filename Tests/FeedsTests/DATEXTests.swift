import CMCCore
import Foundation
import Testing
@testable import Feeds

@Suite struct DATEXTests {
    @Test func parkingV2() throws {
        let table = try DATEXPublication(data: FeedSamples.data("datex2/parking/aachen-static.xml"))
        #expect(table.kind == "ParkingTablePublication" && table.version == 2)
        let sites = try DATEXParking.sites(table)
        #expect(sites.count == 17)
        #expect(sites[0].id == "P1" && sites[0].name == "P01-Eurogress" && sites[0].metadata["capacity"] == .number(560))
        #expect(sites[0].lat == 50.780552 && sites[0].lon == 6.0927987)

        let status = try DATEXPublication(data: FeedSamples.data("datex2/parking/aachen-realtime.xml"))
        let (observations, _) = try DATEXParking.statuses(status)
        #expect(observations.count == 17)
        let p1 = try #require(observations.first { $0.device == "P1" })
        #expect(p1.values["free"] == .number(412) && p1.values["occupied"] == .number(148) && p1.values["capacity"] == .number(560))
        #expect(p1.values["occupancy"] == .number(26.43))
        #expect(p1.values["status"] == .string("spacesAvailable") && p1.values["opening"] == .string("open"))
        #expect(p1.time == Timestamp(parsing: "2025-02-07T19:05:34.176Z"))
    }

    @Test func parkingV3() throws {
        let sites = try DATEXParking.sites(DATEXPublication(data: FeedSamples.data("datex2/parking/bietigheim_bissingen_static-datex3.xml")))
        #expect(sites.map(\.id) == ["de:00001:00001:parkhaus", "de:00001:00002:parkhaus"])
        #expect(sites.map { $0.metadata["capacity"] } == [.number(100), .number(500)])
        #expect(sites[0].name == "Parkhaus Europabrücke" && sites[0].lat == 47.67337657728699)

        let status = try DATEXPublication(data: FeedSamples.data("datex2/parking/bietigheim_bissingen_realtime-datex3.xml"))
        #expect(status.version == 3)
        let (observations, _) = try DATEXParking.statuses(status, sites: sites)
        #expect(observations.map { $0.values["free"] } == [.number(50), .number(400)])
        // Occupied spaces come from the table's capacity: 100 - 50 and 500 - 400.
        #expect(observations.map { $0.values["occupied"] } == [.number(50), .number(100)])
        #expect(observations.map { $0.values["occupancy"] } == [.number(50), .number(20)])
    }

    @Test func trafficLoops() throws {
        let sites = try DATEXTraffic.sites(DATEXPublication(data: FeedSamples.fixture("traffic-sites.xml")))
        #expect(sites.map(\.id) == ["loop-01", "loop-02"])
        #expect(sites[0].name == "Viale Trieste inbound" && sites[0].lat == 39.2186 && sites[0].metadata["lanes"] == .number(2))
        let (observations, skipped) = try DATEXTraffic.measurements(DATEXPublication(data: FeedSamples.fixture("traffic-measurements.xml")))
        // Two lanes: 720 + 480 vehicles/hour; speed weighted by vehicles counted (12 at 42.5, 8 at 37.5).
        #expect(observations[0].values == ["flow": .number(1200), "speed": .number(40.5)])
        // The flagged flow is dropped, the speed kept.
        #expect(observations[1].values == ["speed": .number(28)])
        #expect(skipped == ["dataError": 1])
        #expect(observations[0].time == Timestamp(parsing: "2026-11-20T08:04:00Z"))
    }

    @Test func parkingFacilitiesUnderANationalLabel() throws {
        let table = try DATEXPublication(data: FeedSamples.fixture("parking-facilities-table.xml"))
        // The generic publication is called "MDM-Parken-Statisch": what it holds says what it is.
        #expect(table.kind == "ParkingFacilityTablePublication")
        let sites = try DATEXParking.sites(table)
        #expect(sites.map(\.id) == ["1035", "1036", "1040"])
        #expect(sites[0].name == "P+R Nord" && sites[0].lat == 48.7823 && sites[0].lon == 9.1801 && sites[0].metadata["capacity"] == .number(240))
        #expect(sites[1].lat == 48.7758 && sites[1].metadata["capacityShortTerm"] == .number(420))

        let status = try DATEXPublication(data: FeedSamples.fixture("parking-facilities-status.xml"))
        #expect(status.kind == "ParkingFacilityTableStatusPublication")
        #expect(try DATEXParking.sites(status).isEmpty)
        let (observations, skipped) = try DATEXParking.statuses(status, sites: sites)
        // `1035[P+R Nord]` is the table's 1035; 2001 is in no table.
        #expect(observations.map(\.device) == ["1035", "1036", "1040"])
        #expect(skipped == ["status of a site not in the table": 1, "parkingFacilityOccupancy outside 0-1 (a fraction)": 1])
        // A fraction of 1: 0.45 of 240 spaces.
        #expect(observations[0].values == ["capacity": .number(240), "free": .number(132), "occupied": .number(108), "occupancy": .number(45),
                                           "status": .string("spacesAvailable"), "trend": .string("increasing")])
        #expect(observations[0].time == Timestamp(parsing: "2026-11-20T07:04:00Z"))
        #expect(observations[1].values["status"] == .string("full") && observations[1].values["occupancy"] == .number(100)
                && observations[1].values["capacity"] == .number(420))
        // 62.5 is no fraction: left out, and the occupancy comes from the counts instead.
        #expect(observations[2].values["occupancy"] == .number(62.5) && observations[2].values["occupied"] == .number(50))
    }

    @Test func aStatusThatCarriesItsTableIsTheWholeFeed() throws {
        let feed = try DATEXPublication(data: FeedSamples.fixture("parking-facilities-with-table.xml"))
        let sites = try DATEXParking.sites(feed)
        #expect(sites.map(\.name) == ["Keskustori", "Asema"])
        let (observations, skipped) = try DATEXParking.statuses(feed, sites: sites)
        #expect(skipped.isEmpty)
        #expect(observations.map { $0.values["free"] } == [.number(180), .number(6)])
        #expect(observations.map { $0.values["occupancy"] } == [.number(40), .number(96)])
        #expect(observations.map { $0.values["status"] } == [.string("spacesAvailable"), .string("almostFull")])

        // The table and the status as two publications in one generic extension read the same.
        let text = String(decoding: try FeedSamples.fixture("parking-facilities-with-table.xml"), as: UTF8.self)
        let split = text.replacingOccurrences(of: "</parkingFacilityTable>", with: "</parkingFacilityTable></parkingFacilityTablePublication><parkingFacilityTableStatusPublication>")
            .replacingOccurrences(of: "<parkingFacilityTableStatusPublication>\n        <headerInformation>", with: "<parkingFacilityTablePublication>\n        <headerInformation>")
        let two = try DATEXPublication(data: Data(split.utf8))
        #expect(two.kinds == ["ParkingFacilityTablePublication", "ParkingFacilityTableStatusPublication"])
        #expect(try DATEXParking.statuses(two, sites: DATEXParking.sites(two)).observations == observations)
    }

    @Test func suffixedIdsMatchOnlyWhereUnambiguous() {
        let match = DATEXParking.SiteMatcher(["1035", "7", "7[B]", "P 9"])
        #expect(match.site("1035[P+R Nord]") == "1035")
        #expect(match.site("1035") == "1035")
        #expect(match.site("7[A]") == nil)  // 7 and 7[B] both strip to 7
        #expect(match.site("7[B]") == "7[B]")
        #expect(match.site("P 9 [Garage]") == "P 9")
        #expect(match.site("[x]") == nil)
    }

    @Test func anotherProfileIsRefusedByName() throws {
        let parking = try DATEXPublication(data: FeedSamples.data("datex2/parking/aachen-realtime.xml"))
        #expect(throws: FeedError("the DATEX II document is a ParkingStatusPublication, which the DATEX II traffic reader does not support: it reads MeasuredDataPublication")) {
            try DATEXTraffic.measurements(parking)
        }
        #expect(throws: FeedError.self) { try DATEXPublication(data: Data("<d2LogicalModel><payloadPublication".utf8)) }
        // Travel times from number-plate cameras are not read as "0 observations": the type is named.
        let anpr = try DATEXPublication(data: FeedSamples.fixture("travel-times-anpr.xml"))
        #expect(throws: FeedError("the MeasuredDataPublication carries TravelTimeData measurements, which the DATEX II traffic reader does not support: "
                                  + "it reads TrafficFlow and TrafficSpeed")) { try DATEXTraffic.measurements(anpr) }
        // Beside supported ones they are counted as left out.
        let mixed = String(decoding: try FeedSamples.fixture("traffic-measurements.xml"), as: UTF8.self)
            .replacingOccurrences(of: "<basicData xsi:type=\"TrafficFlow\">", with: "<basicData xsi:type=\"TravelTimeData\">")
        let (observations, skipped) = try DATEXTraffic.measurements(DATEXPublication(data: Data(mixed.utf8)))
        #expect(!observations.isEmpty && (skipped["TravelTimeData (not supported)"] ?? 0) > 0, "\(skipped)")
    }

    @Test func aFileOfAnotherKindSaysWhatItLooksLike() throws {
        let zip = try FeedSamples.data("gtfs/google-sample-feed-1.zip")
        #expect(throws: FeedError("not XML: it looks like a zip archive (\(zip.count) bytes)")) { try DATEXPublication(data: zip) }
        #expect(throws: FeedError("not XML: it looks like a JSON document (9 bytes)")) { try DATEXPublication(data: Data(#"{"a": []}"#.utf8)) }
        let page = #expect(throws: FeedError.self) { try DATEXPublication(data: Data("<html><body>502</body></html>".utf8)) }
        #expect(page?.message == "not a DATEX II document: the root element is html")
        let json = #expect(throws: FeedError.self) { try GTFSArchive(data: Data(#"{"stops": []}"#.utf8)) }
        #expect(json?.message == "not a GTFS zip archive: it looks like a JSON document (13 bytes)")
        #expect(FeedContent.describe(Data()) == "an empty file")
        #expect(FeedContent.describe(Data([0x1F, 0x8B, 8, 0])) == "gzip-compressed data (4 bytes)")
        #expect(FeedContent.describe(Data("<!DOCTYPE html><p>".utf8)) == "an HTML page (18 bytes)")
        #expect(FeedContent.describe(Data([0x0A, 0x03, 0x32, 0x2E, 0x30, 0x00, 0x12])) == "binary data (7 bytes)")
        #expect(FeedContent.describe(Data("stop_id,stop_name\n1,A\n".utf8)) == "text starting \"stop_id,stop_name\" (22 bytes)")
    }
}
