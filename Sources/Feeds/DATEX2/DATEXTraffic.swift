import CMCCore
import Foundation

/// DATEX II traffic loops: MeasurementSiteTablePublication (sites) and MeasuredDataPublication
/// (flow in vehicles/hour, speed in km/h). Values flagged `dataError` are placeholders and dropped.
public enum DATEXTraffic {
    /// The measurements this reader turns into readings.
    static let supported: Set<String> = ["TrafficFlow", "TrafficSpeed"]

    public static func sites(_ publication: DATEXPublication, category: String = "traffic") throws -> [FeedDevice] {
        let table = try publication.part(["MeasurementSiteTablePublication"], reader: "DATEX II traffic site table")
        return table.all("measurementSiteRecord").compactMap { record in
            guard let id = record.attribute("id") else { return nil }
            var metadata: [String: JSONValue] = [:]
            if let lanes = DATEXPublication.number(record.value("measurementSiteNumberOfLanes")) { metadata["lanes"] = .number(lanes) }
            if let road = record.value("roadName") ?? DATEXPublication.text(record.first("roadName")) { metadata["road"] = .string(road) }
            let point = DATEXPublication.point(in: record.first("measurementSiteLocation") ?? record)
            return FeedDevice(id: id, category: category, name: DATEXPublication.text(record.child("measurementSiteName")),
                              lat: point?.lat, lon: point?.lon, metadata: metadata)
        }
    }

    /// Flow and speed per site. A publication of measurements this reader does not read (travel
    /// times from number-plate cameras, for one) fails naming them, rather than reading as empty.
    public static func measurements(_ publication: DATEXPublication) throws -> (observations: [Observation], skipped: [String: Int]) {
        let data = try publication.part(["MeasuredDataPublication"], reader: "DATEX II traffic")
        var observations: [Observation] = []
        var skipped: [String: Int] = [:]
        var unsupported: [String: Int] = [:]
        for site in data.all("siteMeasurements") {
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
            var readable = false
            for data in site.all("basicData") {
                switch data.type {
                case "TrafficFlow":
                    readable = true
                    guard let value = data.first("vehicleFlow") else { continue }
                    if flagged(value) { skipped["dataError", default: 0] += 1; continue }
                    if let flow = DATEXPublication.number(value.value("vehicleFlowRate")) { flows.append(flow) }
                case "TrafficSpeed":
                    readable = true
                    guard let value = data.first("averageVehicleSpeed") else { continue }
                    if flagged(value) { skipped["dataError", default: 0] += 1; continue }
                    if let speed = DATEXPublication.number(value.value("speed")) {
                        let weight = DATEXPublication.number(value.attribute("numberOfInputValuesUsed"))
                        speeds.append((speed, weight))
                    }
                case let other:
                    unsupported[other ?? "untyped basicData", default: 0] += 1
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
                skipped[readable ? "site without valid values" : "site with no TrafficFlow or TrafficSpeed", default: 0] += 1
                continue
            }
            observations.append(Observation(device: id, time: time, values: values))
        }
        if observations.isEmpty, !unsupported.isEmpty {
            throw FeedError("the MeasuredDataPublication carries \(unsupported.keys.sorted().joined(separator: ", ")) measurements, "
                + "which the DATEX II traffic reader does not support: it reads \(supported.sorted().joined(separator: " and "))")
        }
        for (type, count) in unsupported { skipped["\(type) (not supported)", default: 0] += count }
        return (observations, skipped)
    }

    private static func flagged(_ value: XMLTree) -> Bool {
        value.first("dataError")?.text.trimmingCharacters(in: .whitespacesAndNewlines) == "true" || value.attribute("dataError") == "true"
    }
}
