import Auth
import CMCCore
import CMCStorage
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Platform
import Logging
import Outbound
import ServiceLifecycle
import Users

/// A prepared platform on a fresh database, with a client that talks to its router, and helpers
/// to make accounts and tokens.
public struct TestPlatform: Sendable {
    public let platform: Platform
    /// The database under it, for a service's own tests of its storage.
    public let database: any Database
    public let client: any TestClientProtocol
    public let adminToken: String

    public static let adminEmail = "admin@test.cmc"
    public static let adminPassword = "correct horse battery"

    public static func configuration() -> PlatformConfiguration {
        var configuration = PlatformConfiguration()
        configuration.bcryptCost = 4
        // Each test platform's ingest has a session of its own; left behind, it would queue every
        // later test's readings in the broker.
        configuration.mqttSessionExpiry = 120
        // Tests sign many accounts up from one address; the budget's own test sets its limits.
        configuration.passwordChecks = .init(burst: 1_000_000, perMinute: 1_000_000, queued: 10_000)
        configuration.adminEmail = adminEmail
        configuration.adminPassword = adminPassword
        configuration.migrationsDirectory = TestBackend.migrationsDirectory
        configuration.logLevel = .warning
        // The tests' feed publishers and webhook receivers listen on 127.0.0.1.
        configuration.outbound = OutboundPolicy(allowedHosts: ["127.0.0.1"])
        return configuration
    }

    /// Runs `body` against a new platform on `backend`.
    /// `live` serves on a real socket of 127.0.0.1 (`client.port`), for streaming clients.
    public static func run<Result: Sendable>(
        _ backend: TestBackend,
        configuration: PlatformConfiguration = TestPlatform.configuration(),
        live: Bool = false,
        _ body: @Sendable (TestPlatform) async throws -> Result
    ) async throws -> Result {
        try await backend.withDatabase { database in
            try await Self.run(database: database, configuration: configuration, live: live, body)
        }
    }

    /// Runs `body` against a platform on an existing database (to test restarts).
    public static func run<Result: Sendable>(
        database: any Database,
        configuration: PlatformConfiguration = TestPlatform.configuration(),
        live: Bool = false,
        _ body: @Sendable (TestPlatform) async throws -> Result
    ) async throws -> Result {
        let platform = try await Platform.prepare(database: database, configuration: configuration, logger: TestBackend.logger)
        // The application runs the background services too, and stops them after the test.
        return try await platform.application().test(live ? .live : .router) { client in
            let signin = try await client.json(.post, "/users/signin", body: ["email": configuration.adminEmail!, "password": configuration.adminPassword!])
            guard let token = signin["token"] as? String else { throw TestFailure("admin sign-in failed: \(signin)") }
            return try await body(TestPlatform(platform: platform, database: database, client: client, adminToken: token))
        }
    }

    /// Signs up a user (then gives them `role` if not citizen) and signs them in.
    public func user(_ name: String, role: Role = .citizen) async throws -> (id: String, token: String) {
        let email = "\(name)-\(UUID().uuidString.prefix(8))@test.cmc"
        let created = try await client.json(.post, "/users", body: ["email": email, "password": "password-\(name)", "name": name], expect: .created)
        let id = created["id"] as! String
        if role != .citizen {
            try await client.json(.patch, "/users/\(id)", token: adminToken, body: ["role": role.rawValue])
        }
        let signin = try await client.json(.post, "/users/signin", body: ["email": email, "password": "password-\(name)"])
        return (id, signin["token"] as! String)
    }

    /// Registers an app for the user holding `ownerToken` and signs it in.
    public func application(ownerToken: String) async throws -> (id: String, token: String) {
        let created = try await client.json(.post, "/apps", token: ownerToken, body: ["name": "test app"], expect: .created)
        let app = created["app"] as! [String: Any]
        let signin = try await client.json(.post, "/apps/signin", body: ["id": app["id"] as! String, "secret": created["secret"] as! String])
        return (app["id"] as! String, signin["token"] as! String)
    }

    public func microserviceToken(_ name: String = "test-service") async throws -> String {
        try await platform.authority.issue(kind: .microservice, subject: name, lifetime: .seconds(600)).token
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A response with its body parsed as JSON.
public struct JSONReply: @unchecked Sendable {
    public let status: HTTPResponse.Status
    public let headers: HTTPFields
    public let json: Any?
    public let text: String

    public subscript(_ key: String) -> Any? { (json as? [String: Any])?[key] }
    public var array: [[String: Any]] { (json as? [[String: Any]]) ?? [] }
    public var errorCode: String? { (self["error"] as? [String: Any])?["code"] as? String }
    public var errorMessage: String? { (self["error"] as? [String: Any])?["message"] as? String }
}

extension TestClientProtocol {
    /// Sends a request with an optional JSON body (any JSON-serializable value, or raw `String`).
    public func send(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: Any? = nil) async throws -> JSONReply {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        var buffer: ByteBuffer?
        if let body {
            headers[.contentType] = "application/json"
            if let raw = body as? String {
                buffer = ByteBuffer(string: raw)
            } else {
                buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body, options: [.fragmentsAllowed]))
            }
        }
        return try await execute(uri: uri, method: method, headers: headers, body: buffer) { response in
            let text = String(buffer: response.body)
            let json = text.isEmpty ? nil : try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            return JSONReply(status: response.status, headers: response.headers, json: json, text: text)
        }
    }

    /// Sends and checks the status, returning the JSON object body.
    @discardableResult
    public func json(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: Any? = nil,
                     expect status: HTTPResponse.Status = .ok) async throws -> [String: Any] {
        let reply = try await send(method, uri, token: token, body: body)
        guard reply.status == status else {
            throw TestFailure("\(method) \(uri): expected \(status.code), got \(reply.status.code): \(reply.text)")
        }
        return (reply.json as? [String: Any]) ?? [:]
    }
}
