import CMCCore
import Foundation
import Testing
import ZIPFoundation
@testable import Feeds

@Suite struct GTFSTests {
    func sample() throws -> GTFSSchedule {
        try GTFSSchedule(archive: GTFSArchive(data: FeedSamples.data("gtfs/google-sample-feed-1.zip")))
    }

    /// Seconds since 1970 of a local time in the sample's zone (America/Los_Angeles).
    func local(_ text: String) -> Timestamp {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "America/Los_Angeles")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return Timestamp(seconds: formatter.date(from: text)!.timeIntervalSince1970)
    }

    @Test func readsTheSampleFeed() throws {
        let schedule = try sample()
        #expect(schedule.stops.count == 9)
        #expect(schedule.routes.count == 5)
        let stop = try #require(schedule.stops.first { $0.id == "FUR_CREEK_RES" })
        #expect(stop.name == "Furnace Creek Resort (Demo)")
        #expect(stop.lat == 36.425288 && stop.lon == -117.133162)
        #expect(schedule.lines(at: "BEATTY_AIRPORT") == ["10", "30", "50"])
        #expect(schedule.timeZone.identifier == "America/Los_Angeles")
    }

    @Test func nextDeparturesFollowTheCalendar() throws {
        let schedule = try sample()
        // Monday 4 June 2007 is a removed date for FULLW and WE runs on weekends: the next bus is Tuesday's shuttle.
        #expect(schedule.departures(stop: "BEATTY_AIRPORT", from: local("2007-06-04 05:00:00"), limit: 1).map(\.time) == [local("2007-06-05 06:20:00")])
        // Tuesday 5 June 2007: route 10 (AB1 at 8:00, AB2 at 12:15 back) and the airport shuttle every 30 min from 6:20.
        let tuesday = schedule.departures(stop: "BEATTY_AIRPORT", from: local("2007-06-05 07:55:00"), limit: 4)
        #expect(tuesday.map(\.time) == [local("2007-06-05 08:00:00"), local("2007-06-05 08:20:00"), local("2007-06-05 08:50:00"), local("2007-06-05 09:20:00")])
        #expect(tuesday.map(\.line) == ["10", "30", "30", "30"])
        #expect(tuesday[0].headsign == "to Bullfrog")
        // Saturday: AAMV (line 50) runs on weekends only.
        let saturday = schedule.departures(stop: "BEATTY_AIRPORT", from: local("2007-06-09 00:00:00"), limit: 4, line: "50")
        #expect(saturday.map(\.time) == ["08:00", "11:00", "13:00", "16:00"].map { local("2007-06-09 \($0):00") })
    }

    @Test func timesPastMidnightBelongToTheServiceDay() throws {
        let archive = try zip([
            "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,Bus,http://x,Europe/Rome\n",
            "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\nS1,Piazza Yenne,39.2165,9.1130\n",
            "routes.txt": "route_id,route_short_name,route_type\nR,8,3\n",
            "trips.txt": "route_id,service_id,trip_id\nR,WD,T1\n",
            "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\nT1,25:10:00,25:10:00,S1,1\n",
            "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\nWD,1,0,0,0,0,0,0,20261101,20261231\n",
        ])
        let schedule = try GTFSSchedule(archive: archive)
        // Monday 23 November 2026's trip leaves at 01:10 on Tuesday, Rome time (UTC+1).
        let next = schedule.departures(stop: "S1", from: Timestamp(parsing: "2026-11-23T12:00:00Z")!, limit: 1)
        #expect(next.first?.time == Timestamp(parsing: "2026-11-24T00:10:00Z"))
    }

    @Test func missingColumnsAndDamagedArchivesAreNamed() throws {
        let missing = try zip([
            "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\nS1,A,39.2,9.1\n",
            "routes.txt": "route_id,route_short_name\nR,8\n",
            "trips.txt": "route_id,trip_id\nR,T1\n",
            "stop_times.txt": "trip_id,departure_time,stop_id\nT1,08:00:00,S1\n",
            "calendar_dates.txt": "service_id,date,exception_type\nWD,20261123,1\n",
        ])
        #expect(throws: FeedError("trips.txt: missing required column service_id")) { try GTFSSchedule(archive: missing) }

        let whole = try FeedSamples.data("gtfs/google-sample-feed-1.zip")
        let error = #expect(throws: FeedError.self) { try GTFSSchedule(archive: GTFSArchive(data: whole.prefix(whole.count / 2))) }
        #expect(error?.message.contains("zip") == true || error?.message.contains("damaged") == true)

        let noStops = try zip(["routes.txt": "route_id\nR\n"])
        #expect(throws: FeedError("the feed has no stops.txt")) { try GTFSSchedule(archive: noStops) }
    }

    @Test func quotedFieldsAndByteOrderMarks() throws {
        let table = try CSVTable(file: "stops.txt", text: "\u{FEFF}stop_id,stop_name\r\n1,\"Via \"\"Roma\"\", 12\"\r\n2,\r\n")
        #expect(table.rows.count == 2)
        #expect(table.value(table.rows[0], "stop_name") == "Via \"Roma\", 12")
        #expect(table.value(table.rows[1], "stop_name") == nil)
    }

    func zip(_ files: [String: String]) throws -> GTFSArchive {
        let archive = try Archive(data: Data(), accessMode: .create)
        for (name, text) in files.sorted(by: { $0.key < $1.key }) {
            let data = Data(text.utf8)
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        return try GTFSArchive(data: archive.data!)
    }
}
