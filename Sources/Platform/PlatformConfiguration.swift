import CMCCore
import Foundation
import History
import Logging
import Outbound
import Persistence
import Portal
import Users
import Webhooks

/// Settings read from `CMC_*` environment variables, with defaults for a single-machine platform.
public struct PlatformConfiguration: Sendable {
    public var databaseURL = "sqlite:./data/cmc.sqlite"
    public var host = "127.0.0.1"
    public var port = 8080
    public var adminEmail: String?
    public var adminPassword: String?
    public var bcryptCost: UInt8 = 12
    /// Sign-ups and sign-ins one client address may make (each costs a bcrypt check).
    public var passwordChecks = PasswordCheckBudget.Limits()
    public var userTokenLifetime: Duration = .seconds(86400)
    public var appTokenLifetime: Duration = .seconds(86400)
    public var logLevel: Logger.Level = .info
    /// How long a stop (SIGTERM, SIGINT) may take before what is left is cancelled: HTTP requests,
    /// batches and deliveries in flight get this long to finish.
    public var stopTimeout: Duration = .seconds(30)
    public var migrationsDirectory: URL?
    /// The broker devices publish to; MQTT ingest runs when it is set.
    public var mqttURL: String?
    /// On SQLite, how many devices' latest readings are kept in memory; 0 reads each from the file.
    public var latestReadingsInMemory = SQLiteReadingRepository.defaultCachedDevices
    /// Several processes over one PostgreSQL database pass each other their events through the
    /// broker (`CMC_EVENT_MESH=on`), so each one's streams and caches hear every change.
    public var eventMesh = false
    /// The ingest's session name at the broker; one per platform, or instances take it from each other.
    public var mqttClientID = "cmc-ingest"
    /// Seconds the broker keeps the ingest's session (and queues readings for it) while away.
    public var mqttSessionExpiry: UInt32 = 7 * 24 * 3600
    /// UDP port of the CoAP server and of CoAP over DTLS; the server runs when `coapPort` is set.
    public var coapPort: UInt16?
    public var coapsPort: UInt16?
    /// Retries and patience for webhook deliveries (its `outbound` is set from `outbound`).
    public var webhookPolicy = WebhookDispatcher.Policy()
    /// Where webhooks and sources added over the API may fetch from: public addresses, and the
    /// hosts in `CMC_OUTBOUND_ALLOW`.
    public var outbound = OutboundPolicy()
    /// The web map: its files, Leaflet, and the base-map tiles it shows.
    public var portal = PortalController.Configuration(directory: nil)
    /// The data sources declared as files (`connectors/*.json`); none when nil.
    public var connectorsDirectory: URL?

    public init() {}

    public init(environment: [String: String]) throws {
        func int(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let raw = environment[name] else { return nil }
            guard let value = Int(raw), range.contains(value) else {
                throw ConfigurationError("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(raw)'")
            }
            return value
        }
        if let url = environment["CMC_DATABASE_URL"], !url.isEmpty { databaseURL = url }
        if let host = environment["CMC_HOST"], !host.isEmpty { self.host = host }
        if let port = try int("CMC_PORT", 0...65535) { self.port = port }
        adminEmail = environment["CMC_ADMIN_EMAIL"].flatMap { $0.isEmpty ? nil : $0 }
        adminPassword = environment["CMC_ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        if let cost = try int("CMC_BCRYPT_COST", 4...31) { bcryptCost = UInt8(cost) }
        if let rate = try int("CMC_PASSWORD_CHECKS_PER_MINUTE", 1...1_000_000) {
            passwordChecks.perMinute = rate
            passwordChecks.burst = max(passwordChecks.burst, rate)
        }
        if let seconds = try int("CMC_USER_TOKEN_SECONDS", 60...31_536_000) { userTokenLifetime = .seconds(seconds) }
        if let seconds = try int("CMC_APP_TOKEN_SECONDS", 60...31_536_000) { appTokenLifetime = .seconds(seconds) }
        if let seconds = try int("CMC_STOP_SECONDS", 1...3600) { stopTimeout = .seconds(seconds) }
        if let level = environment["CMC_LOG_LEVEL"] {
            guard let parsed = Logger.Level(rawValue: level) else { throw ConfigurationError("CMC_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical") }
            logLevel = parsed
        }
        if let count = try int("CMC_LATEST_READINGS_IN_MEMORY", 0...100_000_000) { latestReadingsInMemory = count }
        mqttURL = environment["CMC_MQTT_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let clientID = environment["CMC_MQTT_CLIENT_ID"], !clientID.isEmpty { mqttClientID = clientID }
        switch environment["CMC_EVENT_MESH"] {
        case nil, "", "off": eventMesh = false
        case "on":
            guard mqttURL != nil else { throw ConfigurationError("CMC_EVENT_MESH=on needs CMC_MQTT_URL: the mesh runs through the broker") }
            guard databaseURL.hasPrefix("postgres") else {
                throw ConfigurationError("CMC_EVENT_MESH=on joins processes that share a PostgreSQL database; CMC_DATABASE_URL names \(databaseURL.split(separator: ":").first ?? "")")
            }
            eventMesh = true
        case let other?: throw ConfigurationError("CMC_EVENT_MESH must be on or off, not '\(other)'")
        }
        outbound = OutboundPolicy(allowList: environment["CMC_OUTBOUND_ALLOW"])
        // CoAP listens by default on its registered ports; "off" turns a port off.
        func port(_ name: String, default value: UInt16) throws -> UInt16? {
            if environment[name] == "off" { return nil }
            return try int(name, 0...65535).map(UInt16.init) ?? value
        }
        coapPort = try port("CMC_COAP_PORT", default: 5683)
        coapsPort = coapPort == nil ? nil : try port("CMC_COAPS_PORT", default: 5684)
        if let directory = environment["CMC_MIGRATIONS_DIR"] { migrationsDirectory = URL(fileURLWithPath: directory) }
        portal.directory = environment["CMC_PORTAL_DIR"].map { URL(fileURLWithPath: $0) } ?? ProjectFolder.locate("portal")
        if let leaflet = environment["CMC_LEAFLET_DIR"] { portal.leafletDirectory = URL(fileURLWithPath: leaflet) }
        portal.tileURL = environment["CMC_TILE_URL"] ?? "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
        // "off" starts the platform with only the sources added over REST.
        if environment["CMC_CONNECTORS_DIR"] != "off" { connectorsDirectory = SourceFiles.locateDirectory(environment: environment) }
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
