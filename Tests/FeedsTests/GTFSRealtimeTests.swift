import CMCCore
import Foundation
import Testing
import ZIPFoundation
@testable import Feeds

@Suite struct GTFSRealtimeTests {
    @Test func tripUpdatesSample() throws {
        let feed = try GTFSRealtimeFeed(data: FeedSamples.data("gtfs-rt/trip-updates-full.pb"))
        #expect(feed.time == Timestamp(microseconds: 1_284_457_468_000_000))
        #expect(feed.tripUpdates == 2)
        // Without the timetable, stop sequences cannot be placed on stops; the delays are still read.
        let trip1 = feed.delays.filter { $0.trip == "trip-1" }
        #expect(trip1.map(\.stopSequence) == [3, 8, 10])
        #expect(trip1.map(\.delay) == [5, 1, 0])
        #expect(feed.delays.filter { $0.trip == "frequency-expanded-trip" }.map(\.delay) == [-2, 0])
        #expect(feed.skipped["unknown trip"] == 5)
    }

    @Test func vehiclePositionSamples() throws {
        let plain = try GTFSRealtimeFeed(data: FeedSamples.data("gtfs-rt/vehicle_position.pb"))
        #expect(plain.vehicles == [.init(id: "1", label: nil, trip: "t0", route: nil, lat: 47, lon: -122, bearing: nil, speed: nil, occupancy: nil, time: nil)])
        let withOccupancy = try GTFSRealtimeFeed(data: FeedSamples.data("gtfs-rt/vehicle-position-pre-occupancy-defaults-with-occupancy-status.pb"))
        #expect(withOccupancy.vehicles.first?.occupancy == "fewSeatsAvailable")
        #expect(withOccupancy.vehicles.first?.lat == 50)
        let without = try GTFSRealtimeFeed(data: FeedSamples.data("gtfs-rt/vehicle-position-pre-occupancy-defaults-no-occupancy.pb"))
        #expect(without.vehicles.first?.occupancy == nil)
    }

    @Test func delaysAreCarriedToLaterStopsOfAScheduledTrip() throws {
        let schedule = try GTFSSchedule(archive: GTFSArchive(data: FeedSamples.data("gtfs/google-sample-feed-1.zip")))
        var message = TransitRealtime_FeedMessage()
        message.header.gtfsRealtimeVersion = "2.0"
        message.header.timestamp = 1_181_000_000
        var entity = TransitRealtime_FeedEntity()
        entity.id = "e1"
        entity.tripUpdate.trip.tripID = "CITY1"  // STAGECOACH 1, NANAA 2, NADAV 3, DADAN 4, EMSI 5
        var first = TransitRealtime_TripUpdate.StopTimeUpdate()
        first.stopSequence = 2
        first.arrival.delay = 240
        var later = TransitRealtime_TripUpdate.StopTimeUpdate()
        later.stopID = "DADAN"
        later.arrival.delay = 60
        entity.tripUpdate.stopTimeUpdate = [first, later]
        message.entity = [entity]
        let feed = try GTFSRealtimeFeed(data: message.serializedData(), schedule: schedule)
        #expect(feed.delays.map(\.stop) == ["NANAA", "NADAV", "DADAN", "EMSI"])
        #expect(feed.delays.map(\.delay) == [240, 240, 60, 60])
        #expect(Set(feed.delays.compactMap(\.route)) == ["CITY"])
    }

    @Test func garbageIsNotAFeedMessage() throws {
        #expect(throws: FeedError.self) { try GTFSRealtimeFeed(data: Data("<html>not found</html>".utf8)) }
        // Valid protobuf of another message: no header.
        #expect(throws: FeedError.self) { try GTFSRealtimeFeed(data: Data([0x08, 0x01])) }
    }

    @Test func reliabilityIsTheOnTimeShareOverTheWindow() {
        var reliability = LineReliability(tolerance: 120, window: 3600)
        let now = Timestamp(parsing: "2026-11-23T10:00:00Z")!
        reliability.record(line: "8", trip: "t1", stop: "s1", delay: 30, at: now)
        reliability.record(line: "8", trip: "t1", stop: "s2", delay: 300, at: now)
        reliability.record(line: "8", trip: "t2", stop: "s1", delay: -60, at: now.adding(seconds: -600))
        reliability.record(line: "8", trip: "t1", stop: "s2", delay: 90, at: now)  // the same arrival, updated
        reliability.record(line: "M", trip: "t9", stop: "s1", delay: 600, at: now.adding(seconds: -7200))  // outside the window
        #expect(reliability.shares(now: now) == ["8": 1.0])
        reliability.record(line: "8", trip: "t3", stop: "s1", delay: 400, at: now)
        #expect(reliability.shares(now: now) == ["8": 0.75])
    }
}

@Suite struct GTFSRealtimeAlertTests {
    @Test func serviceAlertsSample() throws {
        let feed = try GTFSRealtimeFeed(data: FeedSamples.data("gtfs-rt/alerts.pb"))
        #expect(feed.alerts.count == 1)
        let alert = try #require(feed.alerts.first)
        #expect(alert.header == "Stop at Elm street is closed, temporary stop at Oak street")
        #expect(alert.routes == ["219", "100"] && alert.stops == ["16230", "16299"])
        #expect(alert.cause == "construction" && alert.effect == "detour")
        #expect(alert.start == Timestamp(microseconds: 1_284_457_468_000_000))
        #expect(feed.tripUpdates == 0 && feed.vehicles.isEmpty)
    }
}
