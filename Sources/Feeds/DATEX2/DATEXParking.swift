import CMCCore
import Foundation

/// DATEX II parking, in both models cities publish:
/// - v2.3/v3 parking: `ParkingTablePublication` (sites) and `ParkingStatusPublication`, occupancy a
///   percentage (`parkingOccupancy`, 0-100);
/// - v2 parking facilities: `ParkingFacilityTablePublication` and
///   `ParkingFacilityTableStatusPublication`, occupancy a fraction (`parkingFacilityOccupancy`, 0-1).
///   A status publication may carry the facility table with it, so one file is the whole feed.
public enum DATEXParking {
    static let tables = ["ParkingTablePublication", "ParkingFacilityTablePublication", "ParkingFacilityTableStatusPublication"]
    static let statuses = ["ParkingStatusPublication", "ParkingFacilityTableStatusPublication"]

    /// The sites a publication describes; empty for a status publication without its table.
    public static func sites(_ publication: DATEXPublication, category: String = "parking") throws -> [FeedDevice] {
        _ = try publication.part(tables + statuses, reader: "DATEX II parking")
        let records = publication.all("parkingRecord").compactMap { record -> FeedDevice? in
            guard let id = record.attribute("id") else { return nil }
            var metadata: [String: JSONValue] = [:]
            if let spaces = DATEXPublication.number(record.value("parkingNumberOfSpaces")) { metadata["capacity"] = .number(spaces) }
            if let layout = record.value("parkingLayout") { metadata["layout"] = .string(layout) }
            if let type = record.type { metadata["siteType"] = .string(type) }
            let point = DATEXPublication.point(in: record.child("parkingLocation"))
            return FeedDevice(id: id, category: category, name: DATEXPublication.text(record.child("parkingName")),
                              lat: point?.lat, lon: point?.lon, metadata: metadata)
        }
        let facilities = publication.all("parkingFacility").compactMap { facility -> FeedDevice? in
            guard let id = facility.attribute("id") else { return nil }
            var metadata: [String: JSONValue] = [:]
            if let spaces = DATEXPublication.number(facility.child("totalParkingCapacity")?.text) { metadata["capacity"] = .number(spaces) }
            if let short = DATEXPublication.number(facility.child("totalParkingCapacityShortTerm")?.text) { metadata["capacityShortTerm"] = .number(short) }
            if let type = facility.type { metadata["siteType"] = .string(type) }
            let point = DATEXPublication.point(in: facility.child("facilityLocation") ?? facility.child("entranceLocation") ?? facility)
            return FeedDevice(id: id, category: category, name: DATEXPublication.text(facility.child("parkingFacilityName")),
                              lat: point?.lat, lon: point?.lon, metadata: metadata)
        }
        return records + facilities
    }

    /// Occupancy per site of `sites`, under the site's id in the table. Capacities from the table
    /// fill in what a status leaves out; status ids that add the facility's name as a suffix
    /// (`1035[P+R Nord]` for `1035`) are matched where that is unambiguous.
    /// Without `sites`, statuses keep the ids they give.
    public static func statuses(_ publication: DATEXPublication, sites: [FeedDevice]? = nil) throws -> (observations: [Observation], skipped: [String: Int]) {
        _ = try publication.part(statuses, reader: "DATEX II parking status")
        let match = sites.map { SiteMatcher($0.map(\.id)) }
        let capacities = (sites ?? []).reduce(into: [String: Double]()) { $0[$1.id] = $1.metadata["capacity"]?.number }
        var observations: [Observation] = []
        var skipped: [String: Int] = [:]
        func read(_ status: Status) {
            guard let reference = status.reference else {
                skipped["status without a reference to its site", default: 0] += 1
                return
            }
            guard let id = match.map({ $0.site(reference) }) ?? reference else {
                skipped["status of a site not in the table", default: 0] += 1
                return
            }
            guard let time = status.time ?? publication.time else {
                skipped["status without a time", default: 0] += 1
                return
            }
            if let refused = status.refusedOccupancy { skipped[refused, default: 0] += 1 }
            var values = Occupancy(capacity: status.capacity ?? capacities[id], free: status.free, occupied: status.occupied, percent: status.percent).values
            values["status"] = status.state.map(JSONValue.string)
            values["opening"] = status.opening.map(JSONValue.string)
            values["trend"] = status.trend.map(JSONValue.string)
            guard values["free"] != nil || values["status"] != nil else {
                skipped["status without occupancy", default: 0] += 1
                return
            }
            observations.append(Observation(device: id, time: time, values: values.compactMapValues { $0 }))
        }
        publication.all("parkingRecordStatus").map(Status.init(record:)).forEach(read)
        // `parkingFacilityStatus` names both the status of a facility and, inside it, its state.
        publication.all("parkingFacilityStatus").filter { $0.child("parkingFacilityReference") != nil }.map(Status.init(facility:)).forEach(read)
        return (observations, skipped)
    }

    /// One site's status as either model gives it, occupancy as a percentage.
    struct Status {
        var reference: String?
        var time: Timestamp?
        var capacity: Double?
        var free: Double?
        var occupied: Double?
        var percent: Double?
        /// Why an occupancy given was left out (outside its range).
        var refusedOccupancy: String?
        var state: String?
        var opening: String?
        var trend: String?

        init(record status: XMLTree) {
            reference = status.child("parkingRecordReference")?.attribute("id")
            time = status.value("parkingStatusOriginTime").flatMap(Timestamp.init(parsing:))
            let occupancy = status.child("parkingOccupancy")
            capacity = DATEXPublication.number(occupancy?.value("parkingNumberOfSpacesOverride"))
            free = DATEXPublication.number(occupancy?.value("parkingNumberOfVacantSpaces"))
            occupied = DATEXPublication.number(occupancy?.value("parkingNumberOfOccupiedSpaces"))
            if let given = DATEXPublication.number(occupancy?.child("parkingOccupancy")?.text) {
                if (0...100).contains(given) { percent = given } else { refusedOccupancy = "parkingOccupancy outside 0-100 (a percentage)" }
            }
            state = status.value("parkingSiteStatus")
            opening = status.value("parkingSiteOpeningStatus")
            trend = occupancy?.value("parkingOccupancyTrend")
        }

        init(facility status: XMLTree) {
            reference = status.child("parkingFacilityReference")?.attribute("id")
            time = status.value("parkingFacilityStatusTime").flatMap(Timestamp.init(parsing:))
            capacity = DATEXPublication.number(status.child("totalParkingCapacityOverride")?.text)
                ?? DATEXPublication.number(status.child("totalParkingCapacityShortTermOverride")?.text)
            free = DATEXPublication.number(status.child("totalNumberOfVacantParkingSpaces")?.text)
            occupied = DATEXPublication.number(status.child("totalNumberOfOccupiedParkingSpaces")?.text)
            // The facility model gives occupancy as a fraction: 0.45 is 45 %.
            if let fraction = DATEXPublication.number(status.child("parkingFacilityOccupancy")?.text) {
                if (0...1).contains(fraction) { percent = (fraction * 1000).rounded() / 10 } else { refusedOccupancy = "parkingFacilityOccupancy outside 0-1 (a fraction)" }
            }
            // A facility may state several things at once (`open` and `spacesAvailable`): the most telling one.
            let states = status.children("parkingFacilityStatus").compactMap { $0.text.trimmingCharacters(in: .whitespacesAndNewlines).nilIfEmpty }
            state = ["closed", "full", "almostFull", "spacesAvailable"].first(where: states.contains) ?? states.first
            trend = status.child("parkingFacilityOccupancyTrend")?.text.trimmingCharacters(in: .whitespacesAndNewlines).nilIfEmpty
        }
    }

    /// Spaces free, occupied and in all, each filled in from the others where the feed leaves it out.
    struct Occupancy {
        var capacity: Double?
        var free: Double?
        var occupied: Double?
        var percent: Double?

        var values: [String: JSONValue?] {
            var capacity = capacity, free = free, occupied = occupied
            if free == nil, let capacity, let occupied { free = max(0, capacity - occupied) }
            if occupied == nil, let capacity, let free { occupied = max(0, capacity - free) }
            if free == nil, occupied == nil, let capacity, let percent {
                occupied = (capacity * percent / 100).rounded()
                free = capacity - occupied!
            }
            if capacity == nil, let free, let occupied { capacity = free + occupied }
            let share = percent ?? capacity.flatMap { c in occupied.map { c > 0 ? ($0 / c * 1000).rounded() / 10 : 0 } }
            return ["capacity": capacity.map(JSONValue.number), "free": free.map(JSONValue.number),
                    "occupied": occupied.map(JSONValue.number), "occupancy": share.map(JSONValue.number)]
        }
    }

    /// Finds a status's site in the table: by its id, else by the id without a bracketed suffix
    /// (`1035[P+R Nord]`), when exactly one site has that id so stripped.
    struct SiteMatcher {
        let ids: Set<String>
        let byBase: [String: [String]]

        init(_ ids: [String]) {
            self.ids = Set(ids)
            byBase = Dictionary(grouping: ids, by: Self.base)
        }

        func site(_ reference: String) -> String? {
            if ids.contains(reference) { return reference }
            if let candidates = byBase[Self.base(reference)], candidates.count == 1 { return candidates[0] }
            return nil
        }

        static func base(_ id: String) -> String {
            guard id.hasSuffix("]"), let open = id.lastIndex(of: "["), open > id.startIndex else { return id }
            return id[..<open].trimmingCharacters(in: .whitespaces)
        }
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
