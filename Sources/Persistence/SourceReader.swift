import CMCCore
import Feeds
import Foundation
import Outbound

/// Fetches a source's documents and reads them with the reader of its format. Device ids in the
/// answer are the platform's (`<prefix>:<id>`).
struct SourceReader: Sendable {
    let fetcher: FeedFetcher
    let timetables: Timetables
    /// Where `file:relative` URLs and demo data live.
    let connectorsDirectory: URL?
    let environment: [String: String]
    /// Where sources added or changed over the API may fetch from.
    let outbound: OutboundPolicy
    /// The prefix of another source, for realtime updates about the stops a GTFS source registered.
    let prefixOf: @Sendable (String) -> String?

    /// State a source keeps between runs.
    struct Memory: Sendable {
        var reliability: LineReliability?
    }

    /// `trusted`: the source is as its file in `connectors/` declares it, so it may read files there
    /// and fetch from any address; otherwise it fetches only under the outbound policy.
    func read(_ source: Source, trusted: Bool, memory: inout Memory) async throws -> FeedBatch {
        let prefix = source.devicePrefix
        switch source.kind {
        case .gtfs:
            let schedule = try await read("url", source.url, source, trusted: trusted) { try GTFSSchedule(archive: GTFSArchive(data: $0)) }
            timetables.set(source: source.id, prefix: prefix, schedule: schedule)
            var batch = FeedBatch()
            batch.devices = schedule.stops.map { stop in
                FeedDevice(id: DeviceID.make(prefix, stop.id), category: source.category, name: stop.name, lat: stop.lat, lon: stop.lon,
                           metadata: Self.metadata(of: stop, lines: schedule.lines(at: stop.id)))
            }
            return batch

        case .gtfsRealtime:
            let scheduleID = source.schedule ?? ""
            let schedule = timetables.schedule(source: scheduleID)
            let feed = try await read("url", source.url, source, trusted: trusted) { try GTFSRealtimeFeed(data: $0, schedule: schedule) }
            return realtime(feed, source: source, stopPrefix: prefixOf(scheduleID) ?? scheduleID, schedule: schedule, memory: &memory)

        case .gbfs:
            let discovery = try await read("url", source.url, source, trusted: trusted) { try GBFSDocument(file: "gbfs", data: $0) }
            let feeds = try named("url", source.url) { try GBFSFeed.discovery(discovery, language: source.language) }
            var documents = [discovery]
            func document(_ name: String) async throws -> GBFSDocument? {
                guard let link = feeds[name] else { return nil }
                let resolved = URL(string: link, relativeTo: URL(string: resolve(source.url)))?.absoluteString ?? link
                // The discovery file names the other files' URLs: the source's credentials go only
                // where the discovery file itself came from.
                let sameOrigin = URL(string: resolved).map(OutboundPolicy.origin) == URL(string: resolve(source.url)).map(OutboundPolicy.origin)
                let file = try await read("\(name) (listed in gbfs.json)", resolved, source, trusted: trusted, credentials: sameOrigin) {
                    try GBFSDocument(file: name, data: $0)
                }
                documents.append(file)
                return file
            }
            guard let information = try await document("station_information") else {
                throw FeedError("gbfs.json lists no station_information")
            }
            let types = try await document("vehicle_types").map(GBFSFeed.vehicleTypes) ?? [:]
            var vehicles = try await document("vehicle_status")
            if vehicles == nil { vehicles = try await document("free_bike_status") }
            var batch = FeedBatch()
            batch.devices = GBFSFeed.stations(information, category: source.category, types: types)
            let known = Set(batch.devices.map(\.id))
            if let status = try await document("station_status") {
                for observation in GBFSFeed.statuses(status, types: types, vehicles: vehicles) {
                    if known.contains(observation.device) { batch.observations.append(observation) } else { batch.skip("status of an unlisted station") }
                }
            }
            if source.vehicles == true, let vehicles {
                let free = GBFSFeed.freeVehicles(vehicles, category: source.category + "_vehicle", types: types)
                batch.devices += free.devices
                batch.observations += free.observations
            }
            GBFSFeed.report(documents, into: &batch)
            return prefixed(batch, prefix)

        case .datex2Parking:
            let status = try await read("url", source.url, source, trusted: trusted) { try DATEXPublication(data: $0) }
            // Without sitesUrl, the facility model's status must carry its table: the one file is the feed.
            let sites = if let sitesURL = source.sitesURL {
                try await read("sitesUrl", sitesURL, source, trusted: trusted) { try Self.parkingSites(DATEXPublication(data: $0), source) }
            } else {
                try named("url", source.url) { try Self.parkingSites(status, source) }
            }
            let (observations, skipped) = try named("url", source.url) { try DATEXParking.statuses(status, sites: sites) }
            return prefixed(FeedBatch(devices: sites, observations: observations, skipped: skipped), prefix)

        case .datex2Traffic:
            let sites = try await read("sitesUrl", source.sitesURL ?? "", source, trusted: trusted) { try DATEXTraffic.sites(DATEXPublication(data: $0), category: source.category) }
            let (observations, skipped) = try await read("url", source.url, source, trusted: trusted) { try DATEXTraffic.measurements(DATEXPublication(data: $0)) }
            return prefixed(FeedBatch(devices: sites, observations: observations, skipped: skipped), prefix)

        case .json:
            guard let mapping = source.mapping else { throw FeedError("the source has no mapping") }
            return prefixed(try await read("url", source.url, source, trusted: trusted) { try mapping.read($0, category: source.category, fetchedAt: .now()) }, prefix)
        }
    }

    /// Delays and reliability on the stops of the scheduled lines; vehicles as moving devices.
    private func realtime(_ feed: GTFSRealtimeFeed, source: Source, stopPrefix: String, schedule: GTFSSchedule?, memory: inout Memory) -> FeedBatch {
        var batch = FeedBatch(skipped: feed.skipped)
        let time = feed.time ?? .now()
        var reliability = memory.reliability ?? LineReliability(tolerance: source.tolerance ?? 120, window: Int64(source.window ?? 3600))
        var byStop: [String: [(line: String, delay: Int)]] = [:]
        for delay in feed.delays {
            guard let stop = delay.stop else { continue }
            let line = delay.route.flatMap { route in schedule?.route(route)?.line } ?? delay.route ?? "?"
            reliability.record(line: line, trip: delay.trip, stop: stop, delay: delay.delay, at: time)
            byStop[stop, default: []].append((line, delay.delay))
        }
        let shares = reliability.shares(now: time)
        memory.reliability = reliability
        for (stop, delays) in byStop.sorted(by: { $0.key < $1.key }) {
            var perLine: [String: [Int]] = [:]
            for item in delays { perLine[item.line, default: []].append(item.delay) }
            let mean = Double(delays.map(\.delay).reduce(0, +)) / Double(delays.count)
            var values: [String: JSONValue] = ["delay": .number(mean.rounded())]
            values["delays"] = .object(perLine.mapValues { .number(Double($0.reduce(0, +)) / Double($0.count)) })
            values["reliability"] = .object(perLine.keys.reduce(into: [String: JSONValue]()) { result, line in
                if let share = shares[line] { result[line] = .number((share * 1000).rounded() / 1000) }
            })
            batch.observations.append(Observation(device: DeviceID.make(stopPrefix, stop), time: time, values: values))
        }
        if source.vehicles != false {
            for vehicle in feed.vehicles {
                let id = DeviceID.make(source.devicePrefix, vehicle.id)
                var metadata: [String: JSONValue] = [:]
                if let label = vehicle.label { metadata["label"] = .string(label) }
                batch.devices.append(FeedDevice(id: id, category: source.category, name: vehicle.label, lat: vehicle.lat, lon: vehicle.lon, metadata: metadata))
                var values: [String: JSONValue] = ["lat": .number(vehicle.lat), "lon": .number(vehicle.lon)]
                values["trip"] = vehicle.trip.map(JSONValue.string)
                values["line"] = vehicle.route.map { .string(schedule?.route($0)?.line ?? $0) }
                values["bearing"] = vehicle.bearing.map(JSONValue.number)
                values["speed"] = vehicle.speed.map(JSONValue.number)
                values["occupancy"] = vehicle.occupancy.map(JSONValue.string)
                batch.observations.append(Observation(device: id, time: vehicle.time ?? time, values: values.compactMapValues { $0 }))
            }
        }
        return batch
    }

    /// The sites of a DATEX II parking table, or of a status that carries its table; none is an error.
    static func parkingSites(_ table: DATEXPublication, _ source: Source) throws -> [FeedDevice] {
        let sites = try DATEXParking.sites(table, category: source.category)
        guard sites.isEmpty else { return sites }
        throw FeedError("the \(table.kinds.joined(separator: " and ")) carries no parking sites"
            + (source.sitesURL == nil ? "; give sitesUrl, the table of the sites (ParkingTablePublication or ParkingFacilityTablePublication)" : ""))
    }

    /// A GTFS stop's facts on its device: the lines riders board or leave on there, and the code
    /// on the sign where the feed gives one.
    static func metadata(of stop: GTFSSchedule.Stop, lines: [String]) -> [String: JSONValue] {
        var metadata: [String: JSONValue] = ["lines": .array(lines.map(JSONValue.string))]
        if let code = stop.code { metadata["stopCode"] = .string(code) }
        return metadata
    }

    /// Fetches one of a source's files and reads it. A failure says which field named the file
    /// and, for what the file held, its URL.
    private func read<T>(_ field: String, _ address: String, _ source: Source, trusted: Bool, credentials: Bool = true,
                         _ parse: (Data) throws -> T) async throws -> T {
        let data: Data
        do {
            data = try await fetch(address, source, trusted: trusted, credentials: credentials)
        } catch let error as FeedError {
            throw FeedError("\(field): \(error.message)")
        }
        return try named(field, address) { try parse(data) }
    }

    private func named<T>(_ field: String, _ address: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as FeedError {
            throw FeedError("\(field) \(Self.shown(address)): \(error.message)")
        }
    }

    /// A URL as a status may show it: without credentials in it or its query, which may hold a key.
    static func shown(_ address: String) -> String {
        guard var parts = URLComponents(string: address), parts.scheme != nil else { return address }
        parts.user = nil
        parts.password = nil
        let query = parts.query != nil
        parts.query = nil
        parts.fragment = nil
        return (parts.string ?? address) + (query ? "?…" : "")
    }

    private func prefixed(_ batch: FeedBatch, _ prefix: String) -> FeedBatch {
        var batch = batch
        for index in batch.devices.indices { batch.devices[index].id = DeviceID.make(prefix, batch.devices[index].id) }
        for index in batch.observations.indices { batch.observations[index].device = DeviceID.make(prefix, batch.observations[index].device) }
        return batch
    }

    /// `file:relative` is read from the connectors folder.
    func resolve(_ address: String) -> String {
        guard address.hasPrefix("file:"), !address.hasPrefix("file:/"), let directory = connectorsDirectory else { return address }
        return directory.appendingPathComponent(String(address.dropFirst(5))).absoluteString
    }

    private func fetch(_ address: String, _ source: Source, trusted: Bool, credentials send: Bool = true) async throws -> Data {
        var headers: [(String, String)] = []
        if send, let credentials = source.credentials {
            guard credentials.environment.hasPrefix(Source.credentialsPrefix) else {
                throw FeedError("the credentials variable must start with \(Source.credentialsPrefix)")
            }
            guard let secret = environment[credentials.environment] else {
                throw FeedError("the credentials variable \(credentials.environment) is not set")
            }
            headers.append((credentials.header, (credentials.prefix ?? "") + secret))
        }
        let resolved = resolve(address)
        if resolved.lowercased().hasPrefix("file:") {
            guard trusted else { throw FeedError("\(address): file: URLs are read only for sources declared in connectors/") }
            try insideConnectors(resolved, address)
            return try await fetcher.fetch(resolved, timeout: .seconds(source.timeout), headers: headers)
        }
        return try await fetcher.fetch(resolved, timeout: .seconds(source.timeout), headers: headers, guardedBy: trusted ? nil : outbound)
    }

    /// A declared source's files stay in `connectors/`: `file:../../etc/hostname` and
    /// `file:///etc/shadow` are refused. (Links the machine's operator placed in the folder, such as
    /// a shared `demo/`, are the operator's to make and are followed.)
    private func insideConnectors(_ resolved: String, _ address: String) throws {
        guard let directory = connectorsDirectory, let url = URL(string: resolved), url.isFileURL else {
            throw FeedError("\(address): file: URLs are read only inside connectors/")
        }
        let root = directory.standardizedFileURL.path
        let path = url.standardizedFileURL.path
        guard path.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
            throw FeedError("\(address): file: URLs are read only inside connectors/")
        }
    }
}
