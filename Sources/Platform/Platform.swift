import Apps
import Auth
import CMCCore
import CMCHTTP
import CMCStorage
import Devices
import Foundation
import History
import Hummingbird
import HummingbirdCore
import NIOCore
import Logging
import ServiceLifecycle
import UnixSignals
import MQTT
import MQTTConnector
import CoAP
import CoAPConnector
import Events
import Webhooks
import Persistence
import Mobility
import Portal
import HummingbirdWebSocket
import Users

/// Every service of the platform over one database, ready to serve.
public struct Platform: Sendable {
    public let configuration: PlatformConfiguration
    let database: any Database
    public let authority: TokenAuthority
    public let rules: AuthorizationRules
    public let users: UserController
    public let apps: AppController
    public let devices: DeviceController
    public let history: HistoryController
    /// How one service reaches another; what a tool or another service may call.
    public let clients: ServiceClients
    /// Every device change and reading, for `/events`, the broker and webhooks.
    public let events: EventBus
    /// The other processes' events, when several share the database (`eventMesh`).
    public let mesh: MQTTEventMesh?
    /// Whether the database and the broker answer, for `/health`.
    public let readiness: Readiness
    public let webhooks: WebhookController
    /// The scheduler polling the mobility feeds and other sources that do not push.
    public let persistence: PersistenceScheduler
    /// Background work beside the HTTP server, in start order: event publishers, the broker's
    /// account manager and commands, the ingests and the scheduler. `application()` runs them.
    public let services: [any Service]
    /// The one way readings come in, shared by the REST route, the connectors and the feeds.
    let ingest: ReadingIngest
    let logger: Logger

    /// Every route with its default rule; the OpenAPI document and `/auth/rules` list the same set.
    public static let routes: [Route] = SystemRoutes.routes + AuthController.routes + UserController.routes + AppController.routes
        + DeviceController.routes + HistoryController.routes + EventController.routes
        + WebhookController.routes + PersistenceController.routes + MobilityController.routes + PortalController.routes

    /// Migrates the database, loads keys and rules, and creates the first admin if configured.
    public static func prepare(database: any Database, configuration: PlatformConfiguration, logger: Logger) async throws -> Platform {
        let directory = try configuration.migrationsDirectory ?? Migrations.locateDirectory()
        try await Migrations(directory: directory, dialect: database.dialect).apply(to: database, logger: logger)

        let authRepository = SQLAuthRepository(database: database)
        let authority = try await TokenAuthority.load(repository: authRepository)
        let rules = AuthorizationRules(routes: routes)
        if let saved = try await authRepository.savedRules() {
            // Rules saved for routes that no longer exist are dropped rather than refusing to start.
            let known = Set(routes.map { "\($0.method) \($0.path)" })
            rules.replace(with: saved.filter { known.contains("\($0.method) \($0.path)") })
        }

        let deviceRepository = try await DeviceStorage.open(on: database)
        let readings = ReadingStorage.open(on: database, latestInMemory: configuration.latestReadingsInMemory)
        let history = LocalHistory(repository: readings)
        let events = EventBus()
        let lookup = DeviceLookup(repository: deviceRepository, events: events)
        let clients = ServiceClients(devices: LocalDevices(repository: deviceRepository, lookup: lookup, events: events), history: history)
        let ingest = ReadingIngest(lookup: lookup, history: history, events: events)
        var accounts: [String: any DeviceAccounts] = [:]
        var channels: [String: any CommandChannel] = [:]
        let commands = CommandRepository(database: database)
        // What carries events out (to the broker, to webhooks) and what keeps the device cache current.
        var publishing: [any Service] = [lookup]
        var managing: [any Service] = []     // broker accounts and commands
        var taking: [any Service] = []       // what takes readings in
        var mesh: MQTTEventMesh?
        var checks = [Readiness.Check("the database") { (try? await database.query("SELECT 1")) != nil }]
        if let url = configuration.mqttURL {
            let endpoint = try MQTTEndpoint(url: url)
            let brokerAccounts = try BrokerAccounts(endpoint: endpoint)
            accounts["mqtt"] = brokerAccounts
            let mqttCommands = try MQTTCommands(endpoint: endpoint, answers: commands, logger: logger)
            channels["mqtt"] = mqttCommands
            managing += [brokerAccounts, mqttCommands]
            taking.append(makeIngest(endpoint: endpoint, clientID: configuration.mqttClientID, root: "cmc", sessionExpiry: configuration.mqttSessionExpiry,
                                     ingest: ingest, logger: logger))
            let brokerEvents = try MQTTEvents(endpoint: endpoint, bus: events, logger: logger)
            publishing.append(brokerEvents)
            checks.append(Readiness.Check("the broker") { brokerEvents.isConnected })
            if configuration.eventMesh {
                let joined = try MQTTEventMesh(endpoint: endpoint, bus: events, logger: logger)
                mesh = joined
                publishing.append(joined)
            }
        }
        let webhookRepository = WebhookRepository(database: database)
        var webhookPolicy = configuration.webhookPolicy
        webhookPolicy.outbound = configuration.outbound
        let dispatcher = WebhookDispatcher(repository: webhookRepository, bus: events, policy: webhookPolicy, logger: logger)
        publishing.append(dispatcher)
        let coapKeys = CoAPKeys(database: database)
        accounts["coap"] = coapKeys
        if let port = configuration.coapPort {
            taking.append(try CoAPIngest(
                configuration: .init(host: configuration.host, port: port, securePort: configuration.coapsPort),
                keys: coapKeys, ingest: ingest, history: history, logger: logger))
        }
        let persistence = PersistenceScheduler(
            repository: SourceRepository(database: database),
            importer: FeedImport(devices: clients.devices, ingest: ingest),
            connectorsDirectory: configuration.connectorsDirectory, outbound: configuration.outbound, logger: logger)
        if let directory = configuration.connectorsDirectory {
            try await persistence.synchronize(files: SourceFiles.load(directory: directory))
        }
        try await persistence.load()
        taking.append(persistence)
        // A service group stops its services in the reverse of this order, each once the one
        // after it has finished (and after the HTTP server, which comes last): first what takes
        // readings in finishes its batches, then commands and accounts, then what publishes the
        // events of those last batches; the database is closed after all of them (see `serve`).
        let readiness = Readiness(checks: checks)
        await readiness.probe()
        let services = [readiness] + publishing + managing + taking
        let appRepository = SQLAppRepository(database: database)
        let users = UserController(repository: SQLUserRepository(database: database), attempts: SigninAttempts(database: database),
                                   hasher: PasswordHasher(cost: configuration.bcryptCost), authority: authority,
                                   budget: PasswordCheckBudget(limits: configuration.passwordChecks),
                                   tokenLifetime: configuration.userTokenLifetime,
                                   dependents: [OwnedApps(repository: appRepository), OwnedSubscriptions(repository: webhookRepository, dispatcher: dispatcher)])
        if let email = configuration.adminEmail, let password = configuration.adminPassword,
           let admin = try await users.ensureAdmin(email: email, password: password) {
            logger.notice("created the first admin", metadata: ["email": "\(admin.email)"])
        }
        return Platform(
            configuration: configuration, database: database, authority: authority, rules: rules, users: users,
            apps: AppController(repository: appRepository, authority: authority, tokenLifetime: configuration.appTokenLifetime),
            devices: DeviceController(repository: deviceRepository, history: history, ingest: ingest, accounts: accounts,
                                      commands: commands, channels: channels, events: events, reservations: persistence),
            history: HistoryController(repository: readings, devices: LocalDeviceDirectory(repository: deviceRepository)),
            clients: clients, events: events, mesh: mesh, readiness: readiness,
            webhooks: WebhookController(repository: webhookRepository, dispatcher: dispatcher), persistence: persistence,
            services: services, ingest: ingest, logger: logger
        )
    }

    public func router() -> Router<CMCRequestContext> {
        _ = PlatformMetrics.registry
        let router = Router(context: CMCRequestContext.self)
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: ErrorMiddleware())
        let portal = PortalController(configuration: configuration.portal)
        for files in portal.fileMiddlewares() { router.add(middleware: files) }
        router.add(middleware: MethodNotAllowedMiddleware(routes: Self.routes.map { ($0.method, $0.path) }))
        router.add(middleware: AuthorizationMiddleware(authority: authority, rules: rules))
        SystemRoutes(database: database, readiness: readiness).addRoutes(to: router)
        AuthController(authority: authority, rules: rules).addRoutes(to: router)
        users.addRoutes(to: router)
        apps.addRoutes(to: router)
        devices.addRoutes(to: router)
        history.addRoutes(to: router)
        EventController(bus: events, authority: authority).addRoutes(to: router)
        webhooks.addRoutes(to: router)
        PersistenceController(scheduler: persistence).addRoutes(to: router)
        portal.addRoutes(to: router)
        MobilityController(devices: clients.devices, history: clients.history, timetables: persistence.timetables).addRoutes(to: router)
        return router
    }

    /// The HTTP server with every background service in one service group: on a stop the server
    /// finishes its requests first, then the services stop in the reverse of their order. The
    /// caller keeps the database running beside it and closes it after (see `Platform.serve`).
    public func application(onServerRunning: @escaping @Sendable () async -> Void = {}) -> some ApplicationProtocol {
        var logger = self.logger
        logger.logLevel = configuration.logLevel
        let router = router()
        return Application(
            router: router,
            server: HTTPServerBuilder { [webSocketResponder = router.buildResponder()] responder in
                AnsweringMalformedRequests(HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: .init()))
            },
            // A city's worth of clients may connect at once (a crowd opening the map, devices after an
            // outage): a short accept queue would make them wait a SYN retry, a second or more.
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "cmc", backlog: 4096),
            services: services.map { BackgroundService(service: $0, logger: logger) },
            onServerRunning: { channel in
                // NIO accepts 4 connections per loop turn by default; under a crowd that leaves the
                // accept queue overflowing while the loop serves requests.
                try? await channel.setOption(ChannelOptions.maxMessagesPerRead, value: 256).get()
                await onServerRunning()
            },
            logger: logger
        )
    }
}

extension Platform {
    /// The MQTT ingest service, when a broker is configured.
    public func mqttIngest(clientID: String = "cmc-ingest", root: String = "cmc") throws -> MQTTIngest? {
        guard let url = configuration.mqttURL else { return nil }
        return Self.makeIngest(endpoint: try MQTTEndpoint(url: url), clientID: clientID, root: root, sessionExpiry: configuration.mqttSessionExpiry,
                               ingest: ingest, logger: logger)
    }

    static func makeIngest(endpoint: MQTTEndpoint, clientID: String, root: String, sessionExpiry: UInt32, ingest: ReadingIngest,
                           logger: Logger) -> MQTTIngest {
        var configuration = MQTTIngest.Configuration(endpoint: endpoint, clientID: clientID, root: root)
        configuration.sessionExpiry = sessionExpiry
        return MQTTIngest(configuration: configuration, ingest: ingest, logger: logger)
    }

    /// Opens the database and serves the platform on it until SIGINT or SIGTERM, in one service
    /// group: the database first and the platform after it, so that a stop reaches the platform
    /// (its HTTP server, then its background services) before the database. A stop that takes
    /// longer than `configuration.stopTimeout` is cut short by cancellation: what was acknowledged
    /// to anyone is committed by then (readings are acknowledged only after their commit).
    public static func serve(configuration: PlatformConfiguration, logger: Logger,
                             onServerRunning: @escaping @Sendable (Platform) async -> Void = { _ in }) async throws {
        let lock = try DatabaseURL.sqlitePath(configuration.databaseURL).map { try ServeLock(database: $0) }
        defer { withExtendedLifetime(lock) {} }
        let database = try await DatabaseURL.open(configuration.databaseURL, logger: logger)
        var group = ServiceGroupConfiguration(services: [
            .init(service: DatabaseService(database)),
            .init(service: Serving(database: database, configuration: configuration, logger: logger, onServerRunning: onServerRunning)),
        ], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = configuration.stopTimeout
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
    }

    /// Prepares the platform once the database runs (migrations, keys, rules, sources) and serves it.
    struct Serving: Service {
        let database: any Database
        let configuration: PlatformConfiguration
        let logger: Logger
        let onServerRunning: @Sendable (Platform) async -> Void

        func run() async throws {
            let platform = try await Platform.prepare(database: database, configuration: configuration, logger: logger)
            try await platform.application(onServerRunning: { await onServerRunning(platform) }).run()
        }
    }
}
