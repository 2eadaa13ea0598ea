import CMCCore
import DemoCity
import Feeds
import Foundation
import Testing

@Suite struct DemoCityTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("connectors/demo/cagliari")
    /// Tuesday 24 November 2026, 08:15 in Cagliari.
    static let morning = Timestamp(parsing: "2026-11-24T07:15:00Z")!

    @Test func theCityHasTheEvaluationsScale() {
        let city = DemoCity()
        #expect(city.parkings.count == 5 && city.stops.count == 300 && city.loops.count == 100)
        #expect(city.carStations.count == 30 && city.bikeDocks.count == 5)
        #expect(city.lines.count == 12)
        let places = city.parkings + city.stops + city.loops + city.carStations + city.bikeDocks
        #expect(Set(places.map(\.id)).count == 440)
        // Everything is in Cagliari, between Sant'Avendrace, the Asse Mediano and the Poetto.
        #expect(places.allSatisfy { (39.19...39.26).contains($0.lat) && (9.08...9.19).contains($0.lon) })
    }

    @Test func theCommittedFilesAreWhatTheGeneratorWrites() throws {
        for (name, data) in try DemoDocuments().staticFiles() {
            #expect(try Data(contentsOf: Self.folder.appendingPathComponent(name)) == data, "\(name) differs: run cmc demo generate")
        }
    }

    @Test func theFilesReadBackThroughTheRealReaders() throws {
        let schedule = try GTFSSchedule(archive: GTFSArchive(data: Data(contentsOf: Self.folder.appendingPathComponent("gtfs.zip"))))
        #expect(schedule.stops.count == 300 && schedule.routes.count == 12)
        #expect(schedule.timeZone.identifier == "Europe/Rome")
        // Weekday service every 20 minutes; the last trips of the night run past 24:00.
        let first = try #require(schedule.stops.first)
        let next = schedule.departures(stop: first.id, from: Self.morning, limit: 3)
        #expect(next.count == 3 && next[0].time >= Self.morning)
        let night = schedule.departures(stop: first.id, from: Timestamp(parsing: "2026-11-24T23:10:00Z")!, limit: 1)
        #expect(night.first.map { $0.time.secondsSince1970 - Timestamp(parsing: "2026-11-24T23:00:00Z")!.secondsSince1970 < 3600 } == true)

        let parking = try DATEXParking.sites(DATEXPublication(data: Data(contentsOf: Self.folder.appendingPathComponent("parking-table.xml"))))
        #expect(parking.map(\.id) == DemoCity().parkings.map(\.id))
        let loops = try DATEXTraffic.sites(DATEXPublication(data: Data(contentsOf: Self.folder.appendingPathComponent("traffic-sites.xml"))))
        #expect(loops.count == 100 && loops.allSatisfy { $0.lat != nil })
    }

    @Test func liveFeedsFollowTheClockAndPassTheirSchemas() throws {
        let documents = DemoDocuments()
        let sites = documents.city.parkings.map { FeedDevice(id: $0.id, category: "parking", metadata: ["capacity": .number(Double($0.capacity))]) }
        let (parking, _) = try DATEXParking.statuses(DATEXPublication(data: Data(documents.parkingStatus(at: Self.morning).utf8)), sites: sites)
        #expect(parking.count == 5)
        #expect(parking.allSatisfy { $0.time == Self.morning })
        // Rush hour fills the car parks more than the night does.
        let night = try DATEXParking.statuses(DATEXPublication(data: Data(documents.parkingStatus(at: Timestamp(parsing: "2026-11-24T02:00:00Z")!).utf8)))
        let busy = parking.map { $0.values["occupied"]!.number! }.reduce(0, +)
        let quiet = night.observations.map { $0.values["occupied"]!.number! }.reduce(0, +)
        #expect(busy > quiet * 2)

        let (traffic, _) = try DATEXTraffic.measurements(DATEXPublication(data: Data(documents.trafficMeasurements(at: Self.morning).utf8)))
        #expect(traffic.count >= 95)

        for path in ["carsharing/station_information.json", "carsharing/station_status.json", "carsharing/vehicle_types.json",
                     "carsharing/vehicle_status.json", "bikesharing/station_information.json", "bikesharing/station_status.json"] {
            let data = try #require(documents.gbfs(path, base: "http://127.0.0.1:8090/gbfs", at: Self.morning))
            let file = String(path.split(separator: "/")[1].dropLast(5))
            _ = try GBFSDocument(file: file, data: data)  // throws with the violation if the schema refuses it
        }

        let updates = try GTFSRealtimeFeed(data: documents.tripUpdates(at: Self.morning))
        #expect(updates.tripUpdates > 20)
        #expect(updates.time == Self.morning)
        let positions = try GTFSRealtimeFeed(data: documents.vehiclePositions(at: Self.morning))
        #expect(positions.vehicles.count == updates.tripUpdates)
        #expect(Set(positions.vehicles.map(\.id)).count == positions.vehicles.count)
        // 8 December is a holiday: the weekend timetable runs.
        let holiday = try GTFSRealtimeFeed(data: documents.vehiclePositions(at: Timestamp(parsing: "2026-12-08T07:15:00Z")!))
        #expect(holiday.vehicles.allSatisfy { $0.trip?.contains("-WE-") == true } && !holiday.vehicles.isEmpty)
    }
}
