import CMCCore
import Feeds
import Foundation

/// The formats the scheduler reads.
public enum SourceKind: String, Codable, Sendable, CaseIterable {
    case gtfs
    case gtfsRealtime = "gtfs-rt"
    case gbfs
    case datex2Parking = "datex2-parking"
    case datex2Traffic = "datex2-traffic"
    case json

    var defaultCategory: String? {
        switch self {
        case .gtfs: "bus_stop"
        case .gtfsRealtime: "bus"
        case .gbfs: "bikesharing"
        case .datex2Parking: "parking"
        case .datex2Traffic: "traffic"
        case .json: nil
        }
    }

    /// The connector name devices and readings of this kind carry.
    var connector: String {
        switch self {
        case .datex2Parking, .datex2Traffic: "datex2"
        default: rawValue
        }
    }
}

/// A data source the scheduler polls: one file in `connectors/`, or one added over REST.
public struct Source: Codable, Sendable, Equatable {
    public var id: String
    public var kind: SourceKind
    /// `http(s)://`, `file:///absolute` or `file:relative/to/connectors`. GBFS: the `gbfs.json` discovery file.
    public var url: String
    /// DATEX II: the site table (ParkingTablePublication, MeasurementSiteTablePublication).
    public var sitesURL: String?
    /// GTFS-Realtime: the id of the GTFS source whose timetable and stops its updates refer to.
    public var schedule: String?
    /// Seconds between runs.
    public var interval: Int
    /// Seconds a run may take.
    public var timeout: Int
    public var category: String
    /// Device ids are `<prefix>:<id in the feed>`; the source id unless set.
    public var prefix: String?
    /// GBFS: language of the discovery file to follow; register free-floating vehicles too.
    public var language: String?
    public var vehicles: Bool?
    /// GTFS-Realtime: seconds late an arrival may be and count as on time, and the window for reliability.
    public var tolerance: Int?
    public var window: Int?
    /// JSON: where the items and fields are.
    public var mapping: JSONFieldMapping?
    /// A header sent with every request, its value read from an environment variable (never stored).
    public var credentials: Credentials?
    public var paused: Bool

    public struct Credentials: Codable, Sendable, Equatable {
        public var header: String
        public var environment: String
        public var prefix: String?

        public init(header: String, environment: String, prefix: String? = nil) {
            self.header = header
            self.environment = environment
            self.prefix = prefix
        }
    }

    public init(id: String, kind: SourceKind, url: String, sitesURL: String? = nil, schedule: String? = nil, interval: Int = 60,
                timeout: Int = 30, category: String? = nil, prefix: String? = nil, language: String? = nil, vehicles: Bool? = nil,
                tolerance: Int? = nil, window: Int? = nil, mapping: JSONFieldMapping? = nil, credentials: Credentials? = nil,
                paused: Bool = false) {
        self.id = id
        self.kind = kind
        self.url = url
        self.sitesURL = sitesURL
        self.schedule = schedule
        self.interval = interval
        self.timeout = timeout
        self.category = category ?? kind.defaultCategory ?? "sensor"
        self.prefix = prefix
        self.language = language
        self.vehicles = vehicles
        self.tolerance = tolerance
        self.window = window
        self.mapping = mapping
        self.credentials = credentials
        self.paused = paused
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, kind, url, sitesURL = "sitesUrl", schedule, interval, timeout, category, prefix, language, vehicles, tolerance, window,
             mapping, credentials, paused
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(SourceKind.self, forKey: .kind)
        self.init(
            id: try c.decode(String.self, forKey: .id), kind: kind, url: try c.decode(String.self, forKey: .url),
            sitesURL: try c.decodeIfPresent(String.self, forKey: .sitesURL), schedule: try c.decodeIfPresent(String.self, forKey: .schedule),
            interval: try c.decodeIfPresent(Int.self, forKey: .interval) ?? 60, timeout: try c.decodeIfPresent(Int.self, forKey: .timeout) ?? 30,
            category: try c.decodeIfPresent(String.self, forKey: .category), prefix: try c.decodeIfPresent(String.self, forKey: .prefix),
            language: try c.decodeIfPresent(String.self, forKey: .language), vehicles: try c.decodeIfPresent(Bool.self, forKey: .vehicles),
            tolerance: try c.decodeIfPresent(Int.self, forKey: .tolerance), window: try c.decodeIfPresent(Int.self, forKey: .window),
            mapping: try c.decodeIfPresent(JSONFieldMapping.self, forKey: .mapping),
            credentials: try c.decodeIfPresent(Credentials.self, forKey: .credentials),
            paused: try c.decodeIfPresent(Bool.self, forKey: .paused) ?? false
        )
    }

    public var devicePrefix: String { prefix ?? id }

    /// What the names of the environment variables holding sources' credentials start with.
    public static let credentialsPrefix = "CMC_SOURCE_"

    /// Whether it reads `file:` URLs, which only sources declared in `connectors/` may.
    public var readsFiles: Bool {
        [url, sitesURL].contains { $0.map { $0.lowercased().hasPrefix("file:") } ?? false }
    }

    /// Checks a source as an operator sent it; errors name the field.
    public func validated() throws -> Source {
        func word(_ value: String, _ field: String) throws {
            guard (1...64).contains(value.utf8.count), value.utf8.allSatisfy({ c in
                (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || c == 95 || c == 45
            }) else {
                throw APIError.invalid(field, "must be one lower-case word of 1-64 letters, digits, '_' or '-'")
            }
        }
        try word(id, "id")
        try word(category, "category")
        if let prefix { try word(prefix, "prefix") }
        for (field, value) in [("url", url), ("sitesUrl", sitesURL)] {
            guard let value else { continue }
            guard let scheme = URL(string: value)?.scheme?.lowercased(), ["http", "https", "file"].contains(scheme) else {
                throw APIError.invalid(field, "must be an http, https or file URL")
            }
        }
        if let credentials {
            // A source may read only the variables set aside for sources, not the platform's own
            // (`CMC_ADMIN_PASSWORD`, `CMC_DATABASE_URL`, ...), which it would send to its URL.
            guard credentials.environment.hasPrefix(Self.credentialsPrefix), credentials.environment.count > Self.credentialsPrefix.count else {
                throw APIError.invalid("credentials.environment", "must name a variable starting with \(Self.credentialsPrefix)")
            }
        }
        guard (1...86_400 * 7).contains(interval) else { throw APIError.invalid("interval", "must be 1 to 604800 seconds") }
        guard (1...600).contains(timeout) else { throw APIError.invalid("timeout", "must be 1 to 600 seconds") }
        switch kind {
        case .datex2Traffic:
            if sitesURL == nil { throw APIError.invalid("sitesUrl", "is required for \(kind.rawValue): the DATEX II site table") }
        case .datex2Parking:
            break  // without sitesUrl, the status publication must carry its table
        case .gtfsRealtime:
            if schedule == nil { throw APIError.invalid("schedule", "is required for gtfs-rt: the id of the GTFS source it updates") }
        case .json:
            if mapping == nil { throw APIError.invalid("mapping", "is required for json sources") }
        case .gtfs, .gbfs:
            break
        }
        if let tolerance, !(0...3600).contains(tolerance) { throw APIError.invalid("tolerance", "must be 0 to 3600 seconds") }
        if let window, !(60...86_400 * 7).contains(window) { throw APIError.invalid("window", "must be 60 to 604800 seconds") }
        if let credentials, credentials.header.isEmpty || credentials.environment.isEmpty {
            throw APIError.invalid("credentials", "needs a header and the name of the environment variable holding its value")
        }
        return self
    }
}
