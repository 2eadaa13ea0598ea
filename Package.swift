// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// Tests read better with members visible through the test support library.
let testSwiftSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "cmc",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cmc", targets: ["cmc"]),
        .executable(name: "cmc-bench", targets: ["cmc-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.33.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
    ],
    targets: [
        // What every module shares and nothing more: time, JSON, positions, the API's error.
        .target(
            name: "CMCCore",
            dependencies: [
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // SQLite, from Debian's libsqlite3-dev: the platform keeps its statements prepared, which
        // only the C API allows.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Both storage engines behind one SQL executor, migrations, the serve lock.
        .target(
            name: "CMCStorage",
            dependencies: [
                "CMCCore", "CSQLite",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP side every controller shares: error answers, JSON bodies and answers, query
        // parameters, the middleware around every route.
        .target(
            name: "CMCHTTP",
            dependencies: [
                "CMCCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Auth",
            dependencies: [
                "CMCStorage", "CMCHTTP",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                "CMCCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Users",
            dependencies: [
                "CMCStorage", "CMCHTTP",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                "CMCCore", "Auth",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Apps",
            dependencies: [
                "CMCStorage", "CMCHTTP",
                "CMCCore", "Auth",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "History",
            dependencies: [
                "CMCStorage", "CMCHTTP",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                "CMCCore", "Auth",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        // The event stream: what happened to devices, to subscribers in process and over HTTP.
        .target(
            name: "Events",
            dependencies: [
                "CMCHTTP",
                "CMCCore", "Auth",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Outbound: the one policy for what the platform fetches on its users' behalf (feeds added
        // over the API, webhooks): public addresses only, checked at connect time.
        .target(
            name: "Outbound",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Webhooks: events POSTed to subscribers' URLs, signed, retried.
        .target(
            name: "Webhooks",
            dependencies: [
                "CMCStorage", "CMCHTTP",
                "CMCCore", "Auth", "Events", "Outbound",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Devices",
            dependencies: [
                "CMCStorage", "CMCHTTP",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                "CMCCore", "Auth", "History", "Events",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // libmosquitto, from Debian's libmosquitto-dev.
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .target(
            name: "MQTT",
            dependencies: [
                "CMosquitto",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // Devices publishing readings over MQTT.
        .target(
            name: "MQTTConnector",
            dependencies: [
                "CMCCore", "Auth", "Devices", "History", "MQTT", "Events",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // libcoap with OpenSSL for DTLS, from Debian's libcoap3-dev.
        .systemLibrary(name: "CCoAP", pkgConfig: "libcoap-3-openssl", providers: [.apt(["libcoap3-dev"])]),
        .target(
            name: "CoAP",
            dependencies: [
                "CCoAP", "CMCCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Devices sending readings over CoAP and CoAP over DTLS.
        .target(
            name: "CoAPConnector",
            dependencies: [
                "CMCStorage",
                "CMCCore", "Devices", "History", "CoAP", "Events",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Readers for the city's mobility feeds: GTFS, GTFS-Realtime, GBFS, DATEX II, plain JSON.
        .target(
            name: "Feeds",
            dependencies: [
                "CMCCore", "Outbound",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            exclude: ["GTFSRealtime/gtfs-realtime.proto"],
            resources: [.copy("GBFS/Schemas")],
            swiftSettings: swiftSettings
        ),
        // The scheduler that polls the feeds and keeps devices and history up to date.
        .target(
            name: "Persistence",
            dependencies: [
                "CMCStorage", "CMCHTTP",
                "CMCCore", "Auth", "Devices", "History", "Events", "Feeds", "Outbound",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The scenario endpoint: parking near a destination and the mobility services around it.
        .target(
            name: "Mobility",
            dependencies: [
                "CMCHTTP",
                "CMCCore", "Auth", "Devices", "History", "Feeds", "Persistence",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        // The web map's files, Leaflet from Debian, and the base-map tile relay.
        .target(
            name: "Portal",
            dependencies: [
                "CMCCore", "Auth",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The demo city of Cagliari: its layout, its feeds in the real formats, and their publisher.
        .target(
            name: "DemoCity",
            dependencies: [
                "CMCCore", "Feeds",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: swiftSettings
        ),
        // Wires the services into one application; used by `cmc` and by the tests.
        .target(
            name: "Platform",
            dependencies: [
                "CMCStorage", "CMCHTTP",
                "CMCCore", "Auth", "Users", "Apps", "Devices", "History", "MQTT", "MQTTConnector", "CoAP", "CoAPConnector", "Events", "Webhooks",
                "Feeds", "Persistence", "Mobility", "Portal", "Outbound",
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("openapi.json")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "cmc",
            dependencies: ["DemoCity"] + commandLineDependencies(),
            swiftSettings: swiftSettings
        ),
        // The benchmarks, apart from the product: `make bench` builds and runs them.
        .executableTarget(
            name: "cmc-bench",
            dependencies: commandLineDependencies(),
            path: "Sources/cmc-bench",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CMCTesting",
            dependencies: [
                "CMCStorage", "CMCHTTP",
                "Platform", "CMCCore", "Auth", "Outbound", "Users",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/CMCTesting",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "CMCCoreTests", dependencies: ["CMCTesting", "CMCCore", "CMCStorage"], swiftSettings: testSwiftSettings),
        serviceTests("Auth", extra: [.product(name: "JWTKit", package: "jwt-kit"), .product(name: "Crypto", package: "swift-crypto")]),
        serviceTests("Users"),
        serviceTests("Apps"),
        serviceTests("Devices"),
        serviceTests("History"),
        serviceTests("Platform", extra: ["Portal", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOHTTP1", package: "swift-nio")]),
        serviceTests("MQTTConnector", extra: ["MQTT", "Devices", "History", .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio")]),
        serviceTests("CoAPConnector", extra: ["CoAP"]),
        serviceTests("Outbound"),
        serviceTests("Webhooks", extra: ["Events", .product(name: "Crypto", package: "swift-crypto")]),
        serviceTests("DemoCity", extra: ["Feeds", "Persistence"]),
        serviceTests("Mobility", extra: ["DemoCity"]),
        serviceTests("Feeds", extra: [.product(name: "ZIPFoundation", package: "ZIPFoundation")], exclude: ["Fixtures"]),
        serviceTests("Persistence", extra: ["Feeds", "Devices", "History"], exclude: ["Fixtures"]),
        serviceTests("Events", extra: [
            "MQTT",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
        ]),
    ]
)

/// One test target per service, each with the shared test support.
func serviceTests(_ module: String, extra: [Target.Dependency] = [], exclude: [String] = []) -> Target {
    let common = ["CMCTesting", "Platform", "CMCCore", "CMCStorage", "CMCHTTP", "Auth"]
    return .testTarget(
        name: "\(module)Tests",
        // The service's own target, unless it is already one of those every test target has.
        dependencies: (common + (common.contains(module) ? [] : [module])).map { Target.Dependency.target(name: $0) } + [
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ] + extra,
        exclude: exclude,
        swiftSettings: testSwiftSettings
    )
}

/// What both command-line executables (`cmc`, `cmc-bench`) are built on.
func commandLineDependencies() -> [Target.Dependency] { [
    "Platform", "CMCCore", "CMCStorage", "Auth", "Users", "Devices", "History", "MQTT", "MQTTConnector", "CoAP",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
    .product(name: "AsyncHTTPClient", package: "async-http-client"),
    .product(name: "NIOHTTP1", package: "swift-nio"),
    .product(name: "NIOFoundationCompat", package: "swift-nio"),
    .product(name: "Hummingbird", package: "hummingbird"),
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOEmbedded", package: "swift-nio"),
    .product(name: "Logging", package: "swift-log"),
] }
