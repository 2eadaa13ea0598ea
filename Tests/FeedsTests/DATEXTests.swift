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

        let capacities = Dictionary(uniqueKeysWithValues: sites.map { ($0.id, $0.metadata["capacity"]!.number!) })
        let status = try DATEXPublication(data: FeedSamples.data("datex2/parking/bietigheim_bissingen_realtime-datex3.xml"))
        #expect(status.version == 3)
        let (observations, _) = try DATEXParking.statuses(status, capacities: capacities)
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

    @Test func anotherProfileIsRefusedByName() throws {
        let parking = try DATEXPublication(data: FeedSamples.data("datex2/parking/aachen-realtime.xml"))
        #expect(throws: FeedError("expected a DATEX II MeasuredDataPublication, found a ParkingStatusPublication")) {
            try DATEXTraffic.measurements(parking)
        }
        #expect(throws: FeedError.self) { try DATEXPublication(data: Data("<html><body>502</body></html>".utf8)) }
        #expect(throws: FeedError.self) { try DATEXPublication(data: Data("<d2LogicalModel><payloadPublication".utf8)) }
    }
}
