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
        // The airport shuttle (line 30) ends at the airport: it is no departure from there.
        // Monday 4 June 2007 is a removed date for FULLW and WE runs on weekends: the next bus is Tuesday's line 10.
        #expect(schedule.departures(stop: "BEATTY_AIRPORT", from: local("2007-06-04 05:00:00"), limit: 1).map(\.time) == [local("2007-06-05 08:00:00")])
        // Line 10 leaves at 8:00 each day (its return trip ends here): four of them take four days.
        let tuesday = schedule.departures(stop: "BEATTY_AIRPORT", from: local("2007-06-05 07:55:00"), limit: 4)
        #expect(tuesday.map(\.time) == ["05", "06", "07", "08"].map { local("2007-06-\($0) 08:00:00") })
        #expect(tuesday.allSatisfy { $0.line == "10" && $0.headsign == "to Bullfrog" })
        // Saturday: line 50 runs on weekends only, out at 8:00 and 13:00 (it comes back at 11:00 and 16:00).
        let saturday = schedule.departures(stop: "BEATTY_AIRPORT", from: local("2007-06-09 00:00:00"), limit: 4, line: "50")
        #expect(saturday.map(\.time) == ["09 08:00", "09 13:00", "10 08:00", "10 13:00"].map { local("2007-06-\($0):00") })
        // Frequencies: the shuttle every 30 minutes and line 40 every 10 minutes from 8:00 at Stagecoach, where line 40's other direction ends.
        let stagecoach = schedule.departures(stop: "STAGECOACH", from: local("2007-06-05 07:55:00"), limit: 3)
        #expect(stagecoach.map(\.time) == [local("2007-06-05 08:00:00"), local("2007-06-05 08:00:00"), local("2007-06-05 08:10:00")])
        #expect(stagecoach.map(\.line) == ["30", "40", "40"])
        #expect(stagecoach.map(\.trip) == ["STBA", "CITY1", "CITY1"])
    }

    @Test func timesPastMidnightBelongToTheServiceDay() throws {
        let archive = try zip([
            "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,Bus,http://x,Europe/Rome\n",
            "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\nS1,Piazza Yenne,39.2165,9.1130\nS2,Poetto,39.2,9.15\n",
            "routes.txt": "route_id,route_short_name,route_type\nR,8,3\n",
            "trips.txt": "route_id,service_id,trip_id\nR,WD,T1\n",
            "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\nT1,25:10:00,25:10:00,S1,1\nT1,25:30:00,25:30:00,S2,2\n",
            "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\nWD,1,0,0,0,0,0,0,20261101,20261231\n",
        ])
        let schedule = try GTFSSchedule(archive: archive)
        // Monday 23 November 2026's trip leaves at 01:10 on Tuesday, Rome time (UTC+1).
        let next = schedule.departures(stop: "S1", from: Timestamp(parsing: "2026-11-23T12:00:00Z")!, limit: 1)
        #expect(next.first?.time == Timestamp(parsing: "2026-11-24T00:10:00Z"))
    }

    /// A line of three trips a day in Rome: S1 -> S2 (untimed) -> S3 (no pickup) -> S4 (terminus),
    /// and an express passing S2 without stopping.
    func line() throws -> GTFSSchedule {
        try GTFSSchedule(archive: zip([
            "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,Bus,http://x,Europe/Rome\n",
            "stops.txt": "stop_id,stop_code,stop_name,stop_lat,stop_lon\nS1,1001,Stazione,39.21,9.11\nS2,,Via Roma,39.22,9.12\nS3,1003,Ospedale,39.23,9.13\nS4,1004,Capolinea,39.24,9.14\n",
            "routes.txt": "route_id,route_short_name,route_type\nR,8,3\nX,8X,3\n",
            "trips.txt": "route_id,service_id,trip_id,trip_headsign\nR,D,T06,Capolinea\nR,D,T12,Capolinea\nR,D,T18,Capolinea\nX,D,E07,Capolinea\n",
            "stop_times.txt": """
                trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type,drop_off_type,stop_headsign
                T06,06:00:00,06:00:00,S1,1,0,1,Capolinea via Roma
                T06,,,S2,2,,,
                T06,06:20:00,06:20:00,S3,3,1,0,
                T06,06:30:00,06:30:00,S4,4,0,0,
                T12,12:00:00,12:00:00,S1,1,0,1,
                T12,,,S2,2,,,
                T12,12:20:00,12:20:00,S3,3,1,0,
                T12,12:30:00,12:30:00,S4,4,0,0,
                T18,18:00:00,18:00:00,S1,1,,,
                T18,,,S2,2,,,
                T18,18:20:00,18:20:00,S3,3,1,0,
                T18,18:30:00,18:30:00,S4,4,,,
                E07,07:00:00,07:00:00,S1,1,,,
                E07,,,S2,2,1,1,
                E07,07:15:00,07:15:00,S4,3,,,
                """.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n") + "\n",
            "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\nD,1,1,1,1,1,1,1,20261101,20261231\n",
        ]))
    }

    @Test func departuresAreTheCallsARiderCanBoard() throws {
        let schedule = try line()
        let morning = Timestamp(parsing: "2026-11-23T04:00:00Z")!  // 05:00 in Rome
        // The terminus is nobody's departure, and at S3 the bus only lets riders off.
        #expect(schedule.departures(stop: "S4", from: morning, limit: 5).isEmpty)
        #expect(schedule.departures(stop: "S3", from: morning, limit: 5).isEmpty)
        // The untimed call at S2 departs between S1 (06:00) and S3 (06:20); the express passes by.
        let viaRoma = schedule.departures(stop: "S2", from: morning, limit: 1)
        #expect(viaRoma.map(\.time) == [Timestamp(parsing: "2026-11-23T05:10:00Z")!])
        #expect(viaRoma.first?.line == "8")
        // The call's own headsign wins over the trip's.
        let first = schedule.departures(stop: "S1", from: morning, limit: 2)
        #expect(first.map(\.headsign) == ["Capolinea via Roma", "Capolinea"])
        #expect(first.map(\.line) == ["8", "8X"])
        // Lines: where riders board or leave, timed or not; not where a line only passes through.
        #expect(schedule.lines(at: "S2") == ["8"])
        #expect(schedule.lines(at: "S3") == ["8"])
        #expect(schedule.lines(at: "S4") == ["8", "8X"])
        // The rider's code on the sign, where the feed has one.
        #expect(schedule.stops.map(\.code) == ["1001", nil, "1003", "1004"])
    }

    @Test func departuresLookAheadUntilTheLimitOrAWeek() throws {
        let schedule = try line()
        // Late in the evening four buses a day leave S1: 40 of them take ten days, more than the horizon.
        let evening = Timestamp(parsing: "2026-11-23T21:00:00Z")!
        let week = schedule.departures(stop: "S1", from: evening, limit: 40)
        #expect(week.count == 28)
        #expect(week.first?.time == Timestamp(parsing: "2026-11-24T05:00:00Z"))
        #expect(week.allSatisfy { $0.time.microseconds < evening.microseconds + GTFSSchedule.horizonDays * 86_400_000_000 })
        #expect(schedule.departures(stop: "S1", from: evening, limit: 10).count == 10)
        // Past the calendar's end there is nothing, and the search ends at the horizon.
        #expect(schedule.departures(stop: "S1", from: Timestamp(parsing: "2026-12-31T20:00:00Z")!, limit: 10).isEmpty)

        // A weekly boat is found six days ahead.
        let weekly = try GTFSSchedule(archive: zip([
            "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\nP,Porto,39.2,9.1\nQ,Isola,39.1,9.0\n",
            "routes.txt": "route_id,route_short_name\nB,Boat\n",
            "trips.txt": "route_id,service_id,trip_id\nB,SUN,B1\n",
            "stop_times.txt": "trip_id,departure_time,stop_id,stop_sequence\nB1,09:00:00,P,1\nB1,11:00:00,Q,2\n",
            "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\nSUN,0,0,0,0,0,0,1,20261101,20261231\n",
        ]))
        // Monday 23 November 2026 (UTC feed): the next boat is Sunday 29th.
        #expect(weekly.departures(stop: "P", from: Timestamp(parsing: "2026-11-23T10:00:00Z")!, limit: 3).map(\.time)
                == [Timestamp(parsing: "2026-11-29T09:00:00Z")!])
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
