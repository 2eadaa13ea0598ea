import CMCCore
import Foundation

/// One GBFS file (v2.3 or v3.0), checked against the JSON Schema of the version it declares.
/// An entry of a list (a station, a vehicle) that fails the schema is left out and counted; the
/// rest of the file must conform.
public struct GBFSDocument: Sendable {
    public var file: String
    public var version: String
    public var lastUpdated: Timestamp
    public var data: [String: JSONValue]
    /// Whether a schema of the declared version was shipped to check the file against.
    public var checked: Bool
    /// Entries left out, by what is wrong with them.
    public var invalid: [String: Int]
    /// A few of them with their ids and positions, for the source's status.
    public var examples: [String]

    /// Distinct reasons kept per file, and examples: a feed broken in every way stays a short status.
    static let reasonLimit = 20
    static let exampleLimit = 5

    /// Parses and validates `data` as the GBFS file `file` (`station_status`, `gbfs`...).
    public init(file: String, data: Data) throws {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw FeedError("\(file): \(FeedContent.notJSON(data))")
        }
        guard case .object(var root) = value else { throw FeedError("\(file): not a JSON object") }
        guard case .string(let version)? = root["version"] else { throw FeedError("\(file): version is missing") }
        var rejected = Rejected(file: file, version: version)
        let schema = GBFSSchemas.schema(file: file, version: version)
        if let schema {
            if case .object(var body)? = root["data"] {
                for (name, entries) in body {
                    guard case .array(let items) = entries, let itemSchema = schema.items(of: name) else { continue }
                    var kept: [JSONValue] = []
                    for (index, item) in items.enumerated() {
                        if let problem = itemSchema.violations(of: item, limit: 1).first {
                            rejected.add(item, at: "\(name)[\(index)]", problem: problem)
                        } else {
                            kept.append(item)
                        }
                    }
                    body[name] = .array(kept)
                }
                root["data"] = .object(body)
            }
            let violations = schema.violations(of: .object(root))
            if !violations.isEmpty { throw FeedError("\(file) fails the GBFS \(version) schema: \(violations.joined(separator: "; "))") }
        }
        guard let updated = Timestamp(feedValue: root["last_updated"]) else { throw FeedError("\(file): last_updated is not a time") }
        guard case .object(let body)? = root["data"] else { throw FeedError("\(file): data is missing") }
        self.file = file
        self.version = version
        self.checked = schema != nil
        self.lastUpdated = updated
        self.data = body
        self.invalid = rejected.reasons
        self.examples = rejected.examples
    }

    /// The entries of a file left out, counted by reason.
    struct Rejected {
        let file: String
        let version: String
        var reasons: [String: Int] = [:]
        var examples: [String] = []

        mutating func add(_ item: JSONValue, at position: String, problem: String) {
            // "$.num_bikes_available: must be integer, found string": the entry's own path.
            let what = problem.hasPrefix("$.") ? String(problem.dropFirst(2)) : problem.hasPrefix("$: ") ? String(problem.dropFirst(3)) : problem
            var reason = "\(file) entries failing the GBFS \(version) schema: \(what)"
            if reasons[reason] == nil, reasons.count >= GBFSDocument.reasonLimit { reason = "\(file) entries failing the GBFS \(version) schema: other reasons" }
            reasons[reason, default: 0] += 1
            guard examples.count < GBFSDocument.exampleLimit else { return }
            var id = ""
            if case .object(let fields) = item {
                for key in ["station_id", "vehicle_id", "bike_id", "vehicle_type_id"] {
                    if case .string(let value)? = fields[key] { id = " \(key) \(value)"; break }
                }
            }
            examples.append("\(file) \(position)\(id) left out: \(what)")
        }
    }

    func list(_ name: String) -> [[String: JSONValue]] {
        guard case .array(let items)? = data[name] else { return [] }
        return items.compactMap { if case .object(let item) = $0 { item } else { nil } }
    }
}

/// The bike- and car-sharing feeds of one system.
public enum GBFSFeed {
    /// The feeds `gbfs.json` lists, by name; v2.3 lists them per language (the one asked for, else English, else the first).
    public static func discovery(_ document: GBFSDocument, language: String? = nil) throws -> [String: String] {
        var feeds: [JSONValue] = []
        if case .array(let list)? = document.data["feeds"] {
            feeds = list
        } else {
            let languages = document.data.keys.sorted()
            guard let chosen = [language, "en"].compactMap({ $0 }).first(where: languages.contains) ?? languages.first,
                  case .object(let entry)? = document.data[chosen], case .array(let list)? = entry["feeds"] else {
                throw FeedError("gbfs: no feeds listed")
            }
            feeds = list
        }
        var urls: [String: String] = [:]
        for case .object(let feed) in feeds {
            if case .string(let name)? = feed["name"], case .string(let url)? = feed["url"] { urls[name] = url }
        }
        return urls
    }

    public struct VehicleType: Sendable, Equatable {
        public var id: String
        public var formFactor: String?
        public var name: String?
        public var make: String?
        public var model: String?

        /// How a rider tells vehicles apart: make and model for cars, else the type's name, else its id.
        public var label: String {
            if let make, let model { return "\(make) \(model)" }
            return model ?? name ?? id
        }
    }

    public static func vehicleTypes(_ document: GBFSDocument) -> [String: VehicleType] {
        var types: [String: VehicleType] = [:]
        for item in document.list("vehicle_types") {
            guard let id = item["vehicle_type_id"]?.text else { continue }
            types[id] = VehicleType(id: id, formFactor: item["form_factor"]?.text, name: localized(item["name"]),
                                    make: localized(item["make"]), model: localized(item["model"]))
        }
        return types
    }

    /// Stations as devices: name, position, capacity and capacity by vehicle type.
    public static func stations(_ document: GBFSDocument, category: String, types: [String: VehicleType] = [:]) -> [FeedDevice] {
        document.list("stations").compactMap { item in
            guard let id = item["station_id"]?.text else { return nil }
            var metadata: [String: JSONValue] = [:]
            if let capacity = item["capacity"]?.number { metadata["capacity"] = .number(capacity) }
            var byType: [String: JSONValue] = [:]
            if case .object(let capacities)? = item["vehicle_type_capacity"] {  // v2.3
                for (type, count) in capacities { byType[types[type]?.label ?? type] = count }
            }
            if case .array(let capacities)? = item["vehicle_types_capacity"] {  // v3.0
                for case .object(let entry) in capacities {
                    guard case .array(let ids)? = entry["vehicle_type_ids"], let count = entry["count"]?.number else { continue }
                    for case .string(let type) in ids { byType[types[type]?.label ?? type] = .number(count) }
                }
            }
            if !byType.isEmpty { metadata["capacityByType"] = .object(byType) }
            if let address = item["address"]?.text { metadata["address"] = .string(address) }
            if case .bool(let virtual)? = item["is_virtual_station"] { metadata["virtual"] = .bool(virtual) }
            return FeedDevice(id: id, category: category, name: localized(item["name"]), lat: item["lat"]?.number,
                              lon: item["lon"]?.number, metadata: metadata)
        }
    }

    /// Each station's availability now; `vehicles` adds reserved counts from the free-floating list.
    public static func statuses(_ document: GBFSDocument, types: [String: VehicleType] = [:], vehicles: GBFSDocument? = nil) -> [Observation] {
        var reserved: [String: Int] = [:]
        if let vehicles {
            for vehicle in vehicles.list("vehicles") + vehicles.list("bikes") {
                if case .bool(true)? = vehicle["is_reserved"], let station = vehicle["station_id"]?.text { reserved[station, default: 0] += 1 }
            }
        }
        return document.list("stations").compactMap { item in
            guard let id = item["station_id"]?.text else { return nil }
            var values: [String: JSONValue] = [:]
            values["vehiclesAvailable"] = item["num_vehicles_available"] ?? item["num_bikes_available"]
            values["vehiclesDisabled"] = item["num_vehicles_disabled"] ?? item["num_bikes_disabled"]
            values["docksAvailable"] = item["num_docks_available"]
            values["docksDisabled"] = item["num_docks_disabled"]
            if vehicles != nil { values["vehiclesReserved"] = .number(Double(reserved[id] ?? 0)) }
            for (key, name) in [("is_installed", "installed"), ("is_renting", "renting"), ("is_returning", "returning")] {
                values[name] = item[key]
            }
            if case .array(let available)? = item["vehicle_types_available"] {
                var byType: [String: JSONValue] = [:]
                for case .object(let entry) in available {
                    guard let type = entry["vehicle_type_id"]?.text, let count = entry["count"]?.number else { continue }
                    let label = types[type]?.label ?? type
                    byType[label] = .number((byType[label]?.number ?? 0) + count)
                }
                values["availableByType"] = .object(byType)
            }
            let time = Timestamp(feedValue: item["last_reported"]) ?? document.lastUpdated
            return Observation(device: id, time: time, values: values.compactMapValues { $0 })
        }
    }

    /// Free-floating vehicles (not at a station) as devices of `category`, each with a reading.
    public static func freeVehicles(_ document: GBFSDocument, category: String, types: [String: VehicleType] = [:]) -> (devices: [FeedDevice], observations: [Observation]) {
        var devices: [FeedDevice] = []
        var observations: [Observation] = []
        for item in document.list("vehicles") + document.list("bikes") {
            guard let id = (item["vehicle_id"] ?? item["bike_id"])?.text, item["station_id"] == nil,
                  let lat = item["lat"]?.number, let lon = item["lon"]?.number else { continue }
            let type = item["vehicle_type_id"]?.text.flatMap { types[$0] }
            var metadata: [String: JSONValue] = [:]
            if let type { metadata["vehicleType"] = .string(type.label) }
            if let form = type?.formFactor { metadata["formFactor"] = .string(form) }
            devices.append(FeedDevice(id: id, category: category, name: type?.label, lat: lat, lon: lon, metadata: metadata))
            var values: [String: JSONValue] = ["lat": .number(lat), "lon": .number(lon)]
            values["reserved"] = item["is_reserved"]
            values["disabled"] = item["is_disabled"]
            values["rangeMeters"] = item["current_range_meters"]
            values["fuelPercent"] = item["current_fuel_percent"]
            observations.append(Observation(device: id, time: Timestamp(feedValue: item["last_reported"]) ?? document.lastUpdated,
                                            values: values.compactMapValues { $0 }))
        }
        return (devices, observations)
    }

    /// What the files of one read say beyond their data: entries left out, versions that differ
    /// between files, versions no schema is shipped for.
    public static func report(_ documents: [GBFSDocument], into batch: inout FeedBatch) {
        for document in documents {
            for (reason, count) in document.invalid { batch.skipped[reason, default: 0] += count }
            batch.warnings += document.examples
        }
        if Set(documents.map(\.version)).count > 1 {
            batch.warnings.append("the files declare different GBFS versions (" + documents.map { "\($0.file) \($0.version)" }.joined(separator: ", ")
                + "): each was checked against its own version's schema")
        }
        for document in documents where !document.checked && GBFSSchemas.checks(file: document.file) {
            batch.warnings.append("\(document.file) declares GBFS \(document.version), for which no schema is shipped "
                + "(\(GBFSSchemas.versions.joined(separator: ", "))): read without a check")
        }
    }

    /// A v2.3 plain string, or the first text of a v3.0 localized array.
    static func localized(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: return text
        case .array(let items)?:
            for case .object(let entry) in items { if let text = entry["text"]?.text { return text } }
            return nil
        default: return nil
        }
    }
}

extension JSONValue {
    var text: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}

/// The GBFS JSON Schemas shipped with the platform, loaded once.
enum GBFSSchemas {
    static let versions = ["2.3", "3.0"]

    static let loaded: [String: JSONSchema] = {
        var schemas: [String: JSONSchema] = [:]
        for version in versions {
            guard let folder = Bundle.module.url(forResource: "v\(version)", withExtension: nil, subdirectory: "Schemas"),
                  let files = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { continue }
            for file in files where file.hasSuffix(".json") {
                if let data = try? Data(contentsOf: folder.appendingPathComponent(file)), let schema = try? JSONSchema(data: data) {
                    schemas["\(version)/\(file.dropLast(5))"] = schema
                }
            }
        }
        return schemas
    }()

    static func schema(file: String, version: String) -> JSONSchema? { loaded["\(version)/\(file)"] }

    /// Whether some version's schema covers this file.
    static func checks(file: String) -> Bool { versions.contains { loaded["\($0)/\(file)"] != nil } }
}
