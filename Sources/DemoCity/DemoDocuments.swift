import CMCCore
import Feeds
import Foundation
import SwiftProtobuf
import ZIPFoundation

/// The demo city in the formats real cities publish: GTFS and GTFS-Realtime for buses, DATEX II
/// for parking (v3) and traffic loops (v2.3), GBFS for car sharing (v3.0) and bike sharing (v2.3).
public struct DemoDocuments: Sendable {
    public let city: DemoCity
    public let conditions: DemoConditions

    public init(city: DemoCity = DemoCity()) {
        self.city = city
        conditions = DemoConditions(city: city)
    }

    /// The files that do not change, by path under `connectors/demo/cagliari/`.
    public func staticFiles() throws -> [String: Data] {
        [
            "gtfs.zip": try gtfs(),
            "parking-table.xml": Data(parkingTable().utf8),
            "traffic-sites.xml": Data(trafficSites().utf8),
        ]
    }

    // MARK: GTFS

    public func gtfsTables() -> [(name: String, text: String)] {
        var stops = "stop_id,stop_code,stop_name,stop_lat,stop_lon,location_type,wheelchair_boarding\n"
        for stop in city.stops { stops += "\(stop.id),\(stop.id.dropFirst(2)),\(Self.csv(stop.name)),\(stop.lat),\(stop.lon),0,1\n" }
        var routes = "route_id,agency_id,route_short_name,route_long_name,route_type,route_color,route_text_color\n"
        let colors = ["E30613", "0069B4", "009640", "F39200", "951B81", "00A0E2", "E6007E", "8C6E3C", "1D1D1B", "FFCC00", "00B2A9", "B2B2B2"]
        for (index, line) in city.lines.enumerated() {
            let first = city.stops[line.stops.first!].road ?? "", last = city.stops[line.stops.last!].road ?? ""
            routes += "\(line.routeID),CTM,\(line.name),\(Self.csv("\(first) - \(last)")),3,\(colors[index % colors.count]),FFFFFF\n"
        }
        var trips = "route_id,service_id,trip_id,trip_headsign,direction_id\n"
        var stopTimes = "trip_id,arrival_time,departure_time,stop_id,stop_sequence,timepoint\n"
        for trip in city.trips {
            let line = city.lines[trip.line]
            let calls = trip.direction == 0 ? line.stops : line.stops.reversed()
            trips += "\(line.routeID),\(trip.service),\(trip.id),\(Self.csv(city.stops[calls.last!].name)),\(trip.direction)\n"
            for (sequence, (stop, time)) in zip(calls, trip.times).enumerated() {
                let clock = Self.clock(time)
                stopTimes += "\(trip.id),\(clock),\(clock),\(city.stops[stop].id),\(sequence + 1),1\n"
            }
        }
        return [
            ("agency.txt", "agency_id,agency_name,agency_url,agency_timezone,agency_lang\nCTM,CTM Cagliari (demo),https://www.ctmcagliari.it,Europe/Rome,it\n"),
            ("feed_info.txt", "feed_publisher_name,feed_publisher_url,feed_lang,feed_start_date,feed_end_date,feed_version\ncmc demo city,https://www.ctmcagliari.it,it,20260101,20271231,1\n"),
            ("calendar.txt", "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\nWD,1,1,1,1,1,0,0,20260101,20271231\nWE,0,0,0,0,0,1,1,20260101,20271231\n"),
            ("calendar_dates.txt", "service_id,date,exception_type\nWD,20261208,2\nWE,20261208,1\n"),
            ("routes.txt", routes), ("stops.txt", stops), ("trips.txt", trips), ("stop_times.txt", stopTimes),
        ]
    }

    public func gtfs() throws -> Data {
        let archive = try Archive(data: Data(), accessMode: .create)
        for (name, text) in gtfsTables() {
            let data = Data(text.utf8)
            // A fixed date keeps the archive the same from one generation to the next.
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count),
                                 modificationDate: Date(timeIntervalSince1970: 1_767_225_600), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        return archive.data!
    }

    public func tripUpdates(at time: Timestamp) throws -> Data {
        var message = TransitRealtime_FeedMessage()
        message.header = header(time)
        for running in conditions.runningTrips(at: time) {
            let line = city.lines[running.trip.line]
            let calls = running.trip.direction == 0 ? line.stops : line.stops.reversed()
            var entity = TransitRealtime_FeedEntity()
            entity.id = "tu-\(running.trip.id)-\(running.serviceDate)"
            entity.tripUpdate.trip.tripID = running.trip.id
            entity.tripUpdate.trip.routeID = line.routeID
            entity.tripUpdate.trip.startDate = running.serviceDate
            entity.tripUpdate.trip.directionID = UInt32(running.trip.direction)
            entity.tripUpdate.vehicle.id = running.trip.vehicle
            var update = TransitRealtime_TripUpdate.StopTimeUpdate()
            update.stopSequence = UInt32(running.next + 1)
            update.stopID = city.stops[calls[running.next]].id
            update.arrival.delay = Int32(running.delay)
            entity.tripUpdate.stopTimeUpdate = [update]
            entity.tripUpdate.timestamp = UInt64(DemoConditions.minute(time).secondsSince1970)
            message.entity.append(entity)
        }
        return try message.serializedData()
    }

    public func vehiclePositions(at time: Timestamp) throws -> Data {
        var message = TransitRealtime_FeedMessage()
        message.header = header(time)
        for running in conditions.runningTrips(at: time) {
            let line = city.lines[running.trip.line]
            var entity = TransitRealtime_FeedEntity()
            entity.id = "vp-\(running.trip.vehicle)"
            entity.vehicle.trip.tripID = running.trip.id
            entity.vehicle.trip.routeID = line.routeID
            entity.vehicle.vehicle.id = running.trip.vehicle
            entity.vehicle.vehicle.label = "Linea \(line.name)"
            entity.vehicle.position.latitude = Float(running.lat)
            entity.vehicle.position.longitude = Float(running.lon)
            entity.vehicle.position.bearing = Float(running.bearing)
            entity.vehicle.currentStopSequence = UInt32(running.next + 1)
            entity.vehicle.timestamp = UInt64(DemoConditions.minute(time).secondsSince1970)
            entity.vehicle.occupancyStatus = DemoConditions.busy(time) > 0.7 ? .standingRoomOnly : DemoConditions.busy(time) > 0.4 ? .fewSeatsAvailable : .manySeatsAvailable
            message.entity.append(entity)
        }
        return try message.serializedData()
    }

    private func header(_ time: Timestamp) -> TransitRealtime_FeedHeader {
        var header = TransitRealtime_FeedHeader()
        header.gtfsRealtimeVersion = "2.0"
        header.incrementality = .fullDataset
        header.timestamp = UInt64(DemoConditions.minute(time).secondsSince1970)
        return header
    }

    // MARK: DATEX II

    public func parkingTable() -> String {
        var records = ""
        for parking in city.parkings {
            records += """
                        <par:parkingRecord xsi:type="par:UrbanParkingSite" id="\(parking.id)" version="1">
                            <par:parkingName><com:values><com:value lang="it">\(Self.xml(parking.name))</com:value></com:values></par:parkingName>
                            <par:parkingRecordVersionTime>2026-01-01T00:00:00Z</par:parkingRecordVersionTime>
                            <par:parkingNumberOfSpaces>\(parking.capacity)</par:parkingNumberOfSpaces>
                            <par:parkingLocation xsi:type="loc:PointLocation">
                                <loc:pointByCoordinates><loc:pointCoordinates><loc:latitude>\(parking.lat)</loc:latitude><loc:longitude>\(parking.lon)</loc:longitude></loc:pointCoordinates></loc:pointByCoordinates>
                            </par:parkingLocation>
                            <par:parkingLayout>\(parking.capacity > 300 ? "multiStorey" : "surface")</par:parkingLayout>
                            <par:urbanParkingSiteType>offStreetParking</par:urbanParkingSiteType>
                        </par:parkingRecord>

            """
        }
        return Self.datex3(type: "par:ParkingTablePublication", time: "2026-01-01T00:00:00Z", body: """
                <par:headerInformation><com:confidentiality>noRestriction</com:confidentiality><com:informationStatus>real</com:informationStatus></par:headerInformation>
                <par:parkingTable id="CA-PARKING" version="1">
                    <par:parkingTableVersionTime>2026-01-01T00:00:00Z</par:parkingTableVersionTime>
        \(records)        </par:parkingTable>
        """)
    }

    public func parkingStatus(at time: Timestamp) -> String {
        let minute = DemoConditions.minute(time).description
        var records = ""
        for parking in city.parkings {
            let (free, occupied) = conditions.parking(parking, at: time)
            let share = Double(occupied) / Double(parking.capacity) * 100
            records += """
                    <par:parkingRecordStatus xsi:type="par:ParkingSiteStatus">
                        <par:parkingRecordReference id="\(parking.id)" version="1" targetClass="par:ParkingRecord"/>
                        <par:parkingStatusOriginTime>\(minute)</par:parkingStatusOriginTime>
                        <par:parkingOccupancy>
                            <par:parkingNumberOfVacantSpaces>\(free)</par:parkingNumberOfVacantSpaces>
                            <par:parkingNumberOfOccupiedSpaces>\(occupied)</par:parkingNumberOfOccupiedSpaces>
                            <par:parkingOccupancy>\(String(format: "%.1f", share))</par:parkingOccupancy>
                        </par:parkingOccupancy>
                        <par:parkingSiteStatus>\(free == 0 ? "full" : share > 90 ? "almostFull" : "spacesAvailable")</par:parkingSiteStatus>
                        <par:parkingSiteOpeningStatus>open</par:parkingSiteOpeningStatus>
                    </par:parkingRecordStatus>

            """
        }
        return Self.datex3(type: "par:ParkingStatusPublication", time: minute, body: """
                <par:parkingTableReference id="CA-PARKING" version="1" targetClass="par:ParkingTable"/>
                <par:headerInformation><com:confidentiality>noRestriction</com:confidentiality><com:informationStatus>real</com:informationStatus></par:headerInformation>
        \(records)
        """)
    }

    public func trafficSites() -> String {
        var records = ""
        for loop in city.loops {
            records += """
                  <measurementSiteRecord id="\(loop.id)" version="1">
                    <measurementSiteRecordVersionTime>2026-01-01T00:00:00Z</measurementSiteRecordVersionTime>
                    <measurementEquipmentTypeUsed><values><value lang="it">spira induttiva</value></values></measurementEquipmentTypeUsed>
                    <measurementSiteName><values><value lang="it">\(Self.xml(loop.name))</value></values></measurementSiteName>
                    <measurementSiteNumberOfLanes>\(loop.capacity)</measurementSiteNumberOfLanes>
                    <measurementSiteLocation xsi:type="Point">
                      <pointByCoordinates><pointCoordinates><latitude>\(loop.lat)</latitude><longitude>\(loop.lon)</longitude></pointCoordinates></pointByCoordinates>
                    </measurementSiteLocation>
                  </measurementSiteRecord>

            """
        }
        return Self.datex2(type: "MeasurementSiteTablePublication", time: "2026-01-01T00:00:00Z", body: """
              <measurementSiteTable id="CA-LOOPS" version="1">
        \(records)      </measurementSiteTable>
        """)
    }

    public func trafficMeasurements(at time: Timestamp) -> String {
        let minute = DemoConditions.minute(time).description
        var sites = ""
        for loop in city.loops {
            var values = ""
            for (lane, measurement) in conditions.traffic(loop, at: time).enumerated() {
                let error = measurement.dataError ? "<dataError>true</dataError>" : ""
                values += """
                          <measuredValue index="\(lane * 2 + 1)"><measuredValue><basicData xsi:type="TrafficFlow">
                            <vehicleFlow>\(error)<vehicleFlowRate>\(measurement.dataError ? 0 : measurement.flow)</vehicleFlowRate></vehicleFlow>
                          </basicData></measuredValue></measuredValue>
                          <measuredValue index="\(lane * 2 + 2)"><measuredValue><basicData xsi:type="TrafficSpeed">
                            <averageVehicleSpeed numberOfInputValuesUsed="\(measurement.vehicles)"><speed>\(measurement.speed)</speed></averageVehicleSpeed>
                          </basicData></measuredValue></measuredValue>

                """
            }
            sites += """
                    <siteMeasurements>
                      <measurementSiteReference id="\(loop.id)" version="1" targetClass="MeasurementSiteRecord"/>
                      <measurementTimeDefault>\(minute)</measurementTimeDefault>
              \(values)      </siteMeasurements>

              """
        }
        return Self.datex2(type: "MeasuredDataPublication", time: minute, body: """
              <measurementSiteTableReference id="CA-LOOPS" version="1" targetClass="MeasurementSiteTable"/>
              <headerInformation><confidentiality>noRestriction</confidentiality><informationStatus>real</informationStatus></headerInformation>
        \(sites)
        """)
    }

    static func datex2(type: String, time: String, body: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" modelBaseVersion="2">
          <exchange><supplierIdentification><country>it</country><nationalIdentifier>IT-CA-TRAFFIC</nationalIdentifier></supplierIdentification></exchange>
          <payloadPublication xsi:type="\(type)" lang="it">
            <publicationTime>\(time)</publicationTime>
            <publicationCreator><country>it</country><nationalIdentifier>IT-CA-TRAFFIC</nationalIdentifier></publicationCreator>
        \(body)
          </payloadPublication>
        </d2LogicalModel>

        """
    }

    static func datex3(type: String, time: String, body: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <messageContainer xmlns="http://datex2.eu/schema/3/messageContainer" xmlns:com="http://datex2.eu/schema/3/common"
            xmlns:par="http://datex2.eu/schema/3/parking" xmlns:loc="http://datex2.eu/schema/3/locationReferencing"
            xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" modelBaseVersion="3">
            <payload xsi:type="\(type)" lang="it" modelBaseVersion="3">
                <com:publicationTime>\(time)</com:publicationTime>
                <com:publicationCreator><com:country>it</com:country><com:nationalIdentifier>IT-CA-PARKING</com:nationalIdentifier></com:publicationCreator>
        \(body)
            </payload>
        </messageContainer>

        """
    }

    // MARK: GBFS

    /// GBFS documents by path (`carsharing/gbfs.json`...), `base` being the URL they are served under.
    public func gbfs(_ path: String, base: String, at time: Timestamp) -> Data? {
        let minute = DemoConditions.minute(time)
        let v3 = minute.description, v2 = Double(minute.secondsSince1970)
        func document(_ version: String, ttl: Int, _ data: [String: Any]) -> Data {
            let updated: Any = version == "3.0" ? v3 : v2
            return try! JSONSerialization.data(withJSONObject: ["last_updated": updated, "ttl": ttl, "version": version, "data": data],
                                               options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        }
        func localized(_ text: String) -> [[String: String]] { [["text": text, "language": "it"]] }
        switch path {
        case "carsharing/gbfs.json":
            return document("3.0", ttl: 60, ["feeds": ["system_information", "vehicle_types", "station_information", "station_status", "vehicle_status"]
                .map { ["name": $0, "url": "\(base)/carsharing/\($0).json"] }])
        case "carsharing/system_information.json":
            return document("3.0", ttl: 3600, ["system_id": "cagliari-carsharing", "languages": ["it"], "name": localized("Car sharing Cagliari (demo)"),
                                               "opening_hours": "24/7", "feed_contact_email": "dati@example.org", "timezone": "Europe/Rome"])
        case "carsharing/vehicle_types.json":
            return document("3.0", ttl: 3600, ["vehicle_types": DemoConditions.carModels.map { model in
                ["vehicle_type_id": model.id, "form_factor": "car", "propulsion_type": model.propulsion, "name": localized("\(model.make) \(model.model)"),
                 "make": localized(model.make), "model": localized(model.model), "max_range_meters": model.range, "wheel_count": 4,
                 "default_pricing_plan_id": "base", "pricing_plan_ids": ["base"]] as [String: Any]
            }])
        case "carsharing/station_information.json":
            return document("3.0", ttl: 3600, ["stations": city.carStations.map { station in
                ["station_id": station.id, "name": localized(station.name), "lat": station.lat, "lon": station.lon, "capacity": station.capacity,
                 "address": station.road ?? ""] as [String: Any]
            }])
        case "carsharing/station_status.json":
            return document("3.0", ttl: 60, ["stations": city.carStations.map { station in
                let cars = conditions.cars(station, at: time)
                var byModel = [Int](repeating: 0, count: DemoConditions.carModels.count)
                for car in cars where !car.reserved { byModel[car.model] += 1 }
                return ["station_id": station.id, "num_vehicles_available": cars.filter { !$0.reserved }.count,
                        "num_docks_available": station.capacity - cars.count, "is_installed": true, "is_renting": true, "is_returning": true,
                        "last_reported": v3, "vehicle_types_available": DemoConditions.carModels.enumerated().map { ["vehicle_type_id": $1.id, "count": byModel[$0]] }]
                    as [String: Any]
            }])
        case "carsharing/vehicle_status.json":
            return document("3.0", ttl: 60, ["vehicles": city.carStations.flatMap { station in
                conditions.cars(station, at: time).map { car in
                    ["vehicle_id": car.id, "station_id": station.id, "vehicle_type_id": DemoConditions.carModels[car.model].id, "is_reserved": car.reserved,
                     "is_disabled": false, "last_reported": v3, "current_range_meters": DemoConditions.carModels[car.model].range / 2] as [String: Any]
                }
            }])
        case "bikesharing/gbfs.json":
            return document("2.3", ttl: 60, ["it": ["feeds": ["system_information", "station_information", "station_status"]
                .map { ["name": $0, "url": "\(base)/bikesharing/\($0).json"] }]])
        case "bikesharing/system_information.json":
            return document("2.3", ttl: 3600, ["system_id": "cagliari-bike", "language": "it", "name": "Bike sharing Cagliari (demo)", "timezone": "Europe/Rome"])
        case "bikesharing/station_information.json":
            return document("2.3", ttl: 3600, ["stations": city.bikeDocks.map { dock in
                ["station_id": dock.id, "name": dock.name, "lat": dock.lat, "lon": dock.lon, "capacity": dock.capacity] as [String: Any]
            }])
        case "bikesharing/station_status.json":
            return document("2.3", ttl: 60, ["stations": city.bikeDocks.map { dock in
                let bikes = conditions.bikes(dock, at: time)
                return ["station_id": dock.id, "num_bikes_available": bikes.available, "num_bikes_disabled": bikes.disabled,
                        "num_docks_available": bikes.docks, "is_installed": true, "is_renting": true, "is_returning": true,
                        "last_reported": Int(v2)] as [String: Any]
            }])
        default:
            return nil
        }
    }

    // MARK: text helpers

    static func clock(_ seconds: Int) -> String { String(format: "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60) }

    static func csv(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    static func xml(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
