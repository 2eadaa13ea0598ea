import CMCCore
import Foundation

/// The publication inside a DATEX II v2 (`d2LogicalModel`) or v3 (`messageContainer`, `payload`) document.
public struct DATEXPublication {
    /// `ParkingTablePublication`, `ParkingStatusPublication`, `MeasuredDataPublication`,
    /// `MeasurementSiteTablePublication`...
    public let kind: String
    public let version: Int
    public let time: Timestamp?
    let element: XMLTree

    public init(data: Data) throws {
        let root = try XMLTree.parse(data)
        let version = root.attribute("modelBaseVersion").flatMap { Int($0) } ?? (root.name == "d2LogicalModel" ? 2 : 3)
        let payload: XMLTree?
        switch root.name {
        case "d2LogicalModel": payload = root.child("payloadPublication")
        case "messageContainer": payload = root.child("payload")
        case "payload", "payloadPublication": payload = root
        default: throw FeedError("not a DATEX II document: the root element is \(root.name)")
        }
        guard let payload, var kind = payload.type else { throw FeedError("DATEX II document without a typed payload publication") }
        var element = payload
        // v2 parking comes as a GenericPublication that names the real one and wraps it in an extension.
        if kind == "GenericPublication", let name = payload.value("genericPublicationName") {
            kind = name
            let inner = name.prefix(1).lowercased() + name.dropFirst()
            element = payload.first(inner) ?? payload
        }
        self.kind = kind
        self.version = version
        self.element = element
        time = payload.value("publicationTime").flatMap(Timestamp.init(parsing:))
    }

    /// Fails unless this is the publication a reader expects, naming what was found instead.
    func expect(_ kinds: String...) throws {
        guard kinds.contains(kind) else {
            throw FeedError("expected a DATEX II \(kinds.joined(separator: " or ")), found a \(kind)")
        }
    }

    static func number(_ text: String?) -> Double? { text.flatMap { Double($0) }.flatMap { $0.isFinite ? $0 : nil } }

    /// A point's coordinates anywhere under `element` (v2 `pointCoordinates`, v3 `loc:` elements).
    static func point(in element: XMLTree?) -> (lat: Double, lon: Double)? {
        guard let element, let lat = number(element.first("latitude")?.text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let lon = number(element.first("longitude")?.text.trimmingCharacters(in: .whitespacesAndNewlines)),
              (-90...90).contains(lat), (-180...180).contains(lon) else { return nil }
        return (lat, lon)
    }

    /// The first text of a multilingual `values/value` list.
    static func text(_ element: XMLTree?) -> String? { element?.value("value") }
}

/// DATEX II parking: ParkingTablePublication (sites) and ParkingStatusPublication (occupancy), v2.3 and v3.
public enum DATEXParking {
    public static func sites(_ publication: DATEXPublication, category: String = "parking") throws -> [FeedDevice] {
        try publication.expect("ParkingTablePublication")
        return publication.element.all("parkingRecord").compactMap { record in
            guard let id = record.attribute("id") else { return nil }
            var metadata: [String: JSONValue] = [:]
            if let spaces = DATEXPublication.number(record.value("parkingNumberOfSpaces")) { metadata["capacity"] = .number(spaces) }
            if let layout = record.value("parkingLayout") { metadata["layout"] = .string(layout) }
            if let type = record.type { metadata["siteType"] = .string(type) }
            let point = DATEXPublication.point(in: record.child("parkingLocation"))
            return FeedDevice(id: id, category: category, name: DATEXPublication.text(record.child("parkingName")),
                              lat: point?.lat, lon: point?.lon, metadata: metadata)
        }
    }

    /// Occupancy per site. `capacities` (from the table) fill in what a status leaves out.
    /// DATEX II gives `parkingOccupancy` as a percentage.
    public static func statuses(_ publication: DATEXPublication, capacities: [String: Double] = [:]) throws -> (observations: [Observation], skipped: [String: Int]) {
        try publication.expect("ParkingStatusPublication")
        var observations: [Observation] = []
        var skipped: [String: Int] = [:]
        for status in publication.element.all("parkingRecordStatus") {
            guard let id = status.child("parkingRecordReference")?.attribute("id") else {
                skipped["status without parkingRecordReference", default: 0] += 1
                continue
            }
            guard let time = status.value("parkingStatusOriginTime").flatMap(Timestamp.init(parsing:)) ?? publication.time else {
                skipped["status without a time", default: 0] += 1
                continue
            }
            let occupancy = status.child("parkingOccupancy")
            var capacity = DATEXPublication.number(occupancy?.value("parkingNumberOfSpacesOverride")) ?? capacities[id]
            var free = DATEXPublication.number(occupancy?.value("parkingNumberOfVacantSpaces"))
            var occupied = DATEXPublication.number(occupancy?.value("parkingNumberOfOccupiedSpaces"))
            let percent = DATEXPublication.number(occupancy?.child("parkingOccupancy")?.text.trimmingCharacters(in: .whitespacesAndNewlines))
            if free == nil, let capacity, let occupied { free = max(0, capacity - occupied) }
            if occupied == nil, let capacity, let free { occupied = max(0, capacity - free) }
            if free == nil, occupied == nil, let capacity, let percent {
                occupied = (capacity * percent / 100).rounded()
                free = capacity - occupied!
            }
            if capacity == nil, let free, let occupied { capacity = free + occupied }
            var values: [String: JSONValue] = [:]
            values["capacity"] = capacity.map(JSONValue.number)
            values["free"] = free.map(JSONValue.number)
            values["occupied"] = occupied.map(JSONValue.number)
            values["occupancy"] = (percent ?? capacity.flatMap { c in occupied.map { c > 0 ? ($0 / c * 1000).rounded() / 10 : 0 } }).map(JSONValue.number)
            if let state = status.value("parkingSiteStatus") { values["status"] = .string(state) }
            if let opening = status.value("parkingSiteOpeningStatus") { values["opening"] = .string(opening) }
            if let trend = occupancy?.value("parkingOccupancyTrend") { values["trend"] = .string(trend) }
            guard values["free"] != nil || values["status"] != nil else {
                skipped["status without occupancy", default: 0] += 1
                continue
            }
            observations.append(Observation(device: id, time: time, values: values.compactMapValues { $0 }))
        }
        return (observations, skipped)
    }
}

/// DATEX II traffic loops: MeasurementSiteTablePublication (sites) and MeasuredDataPublication
/// (flow in vehicles/hour, speed in km/h). Values flagged `dataError` are placeholders and dropped.
public enum DATEXTraffic {
    public static func sites(_ publication: DATEXPublication, category: String = "traffic") throws -> [FeedDevice] {
        try publication.expect("MeasurementSiteTablePublication")
        return publication.element.all("measurementSiteRecord").compactMap { record in
            guard let id = record.attribute("id") else { return nil }
            var metadata: [String: JSONValue] = [:]
            if let lanes = DATEXPublication.number(record.value("measurementSiteNumberOfLanes")) { metadata["lanes"] = .number(lanes) }
            if let road = record.value("roadName") ?? DATEXPublication.text(record.first("roadName")) { metadata["road"] = .string(road) }
            let point = DATEXPublication.point(in: record.first("measurementSiteLocation") ?? record)
            return FeedDevice(id: id, category: category, name: DATEXPublication.text(record.child("measurementSiteName")),
                              lat: point?.lat, lon: point?.lon, metadata: metadata)
        }
    }

    public static func measurements(_ publication: DATEXPublication) throws -> (observations: [Observation], skipped: [String: Int]) {
        try publication.expect("MeasuredDataPublication")
        var observations: [Observation] = []
        var skipped: [String: Int] = [:]
        for site in publication.element.all("siteMeasurements") {
            guard let id = site.child("measurementSiteReference")?.attribute("id") else {
                skipped["measurement without measurementSiteReference", default: 0] += 1
                continue
            }
            guard let time = site.value("measurementTimeDefault").flatMap(Timestamp.init(parsing:)) ?? publication.time else {
                skipped["measurement without a time", default: 0] += 1
                continue
            }
            var flows: [Double] = []
            var speeds: [(speed: Double, flow: Double?)] = []
            for data in site.all("basicData") {
                switch data.type {
                case "TrafficFlow":
                    guard let value = data.first("vehicleFlow") else { continue }
                    if flagged(value) { skipped["dataError", default: 0] += 1; continue }
                    if let flow = DATEXPublication.number(value.value("vehicleFlowRate")) { flows.append(flow) }
                case "TrafficSpeed":
                    guard let value = data.first("averageVehicleSpeed") else { continue }
                    if flagged(value) { skipped["dataError", default: 0] += 1; continue }
                    if let speed = DATEXPublication.number(value.value("speed")) {
                        let weight = DATEXPublication.number(value.attribute("numberOfInputValuesUsed"))
                        speeds.append((speed, weight))
                    }
                default:
                    continue
                }
            }
            var values: [String: JSONValue] = [:]
            if !flows.isEmpty { values["flow"] = .number(flows.reduce(0, +)) }
            if !speeds.isEmpty {
                // Lanes with more vehicles weigh more when the feed says how many it averaged.
                let weights = speeds.map { $0.flow ?? 1 }
                let total = weights.reduce(0, +)
                let mean = total > 0 ? zip(speeds, weights).map { $0.speed * $1 }.reduce(0, +) / total : speeds.map(\.speed).reduce(0, +) / Double(speeds.count)
                values["speed"] = .number((mean * 10).rounded() / 10)
            }
            guard !values.isEmpty else {
                skipped["site without valid values", default: 0] += 1
                continue
            }
            observations.append(Observation(device: id, time: time, values: values))
        }
        return (observations, skipped)
    }

    private static func flagged(_ value: XMLTree) -> Bool {
        value.first("dataError")?.text.trimmingCharacters(in: .whitespacesAndNewlines) == "true" || value.attribute("dataError") == "true"
    }
}
