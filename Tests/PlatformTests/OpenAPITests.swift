import Auth
import CMCTesting
import Foundation
import Platform
import Testing

@Suite("OpenAPI document")
struct OpenAPITests {
    @Test("every route is documented and every documented operation is a route")
    func matchesRoutes() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any])
        #expect((document["openapi"] as? String)?.hasPrefix("3.1") == true)
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let methods: Set<String> = ["get", "put", "post", "delete", "patch"]
        var documented = Set<String>()
        for (path, item) in paths {
            for key in item.keys where methods.contains(key) { documented.insert("\(key.uppercased()) \(path)") }
        }
        let served = Set(Platform.routes.map { "\($0.method) \($0.path)" })
        #expect(served.subtracting(documented).sorted() == [], "routes missing from openapi.json")
        #expect(documented.subtracting(served).sorted() == [], "operations in openapi.json that no route serves")
        // Every documented path parameter is declared.
        for (path, item) in paths {
            let names = path.split(separator: "{").dropFirst().map { String($0.prefix { $0 != "}" }) }
            for (method, operation) in item where methods.contains(method) {
                let parameters = ((operation as? [String: Any])?["parameters"] as? [[String: Any]] ?? []) + (item["parameters"] as? [[String: Any]] ?? [])
                for name in names {
                    #expect(parameters.contains { $0["name"] as? String == name && $0["in"] as? String == "path" }, "\(method) \(path) lacks \(name)")
                }
            }
        }
    }

    @Test("the router serves exactly the declared routes, and the document lists exactly what the router serves", arguments: [TestBackend.sqlite])
    func routerMatches(backend: TestBackend) async throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let methods: Set<String> = ["get", "put", "post", "delete", "patch"]
        let documented = Set(paths.flatMap { path, item in item.keys.filter(methods.contains).map { "\($0.uppercased()) \(path)" } })
        let declared = Set(Platform.routes.map { "\($0.method) \($0.path)" })
        #expect(declared.count == Platform.routes.count, "a route is declared twice")
        try await backend.withDatabase { database in
            let platform = try await Platform.prepare(database: database, configuration: TestPlatform.configuration(), logger: TestBackend.logger)
            // What the router itself holds, as Hummingbird lists it (`/devices/{id}` for a capture).
            let served = Set(platform.router().routes.map { "\($0.method) \($0.path.description.hasPrefix("/") ? "" : "/")\($0.path)" })
            #expect(served.subtracting(declared).sorted() == [], "served but without a declared rule")
            #expect(declared.subtracting(served).sorted() == [], "declared but not served")
            #expect(served.subtracting(documented).sorted() == [], "served but not in openapi.json")
            #expect(documented.subtracting(served).sorted() == [], "in openapi.json but not served")
        }
    }

    @Test("routes open to anonymous callers say so; the others need a token")
    func security() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        for route in Platform.routes {
            let operation = try #require(paths[route.path]?[route.method.lowercased()] as? [String: Any], "\(route.method) \(route.path)")
            // An operation without its own `security` takes the document's: a bearer token.
            let security = operation["security"] as? [[String: Any]] ?? [["bearer": []]]
            let anonymous = security.contains { $0.isEmpty }
            #expect(anonymous == route.defaultAllow.contains(.anonymous), "\(route.method) \(route.path): security \(security)")
            #expect(security.contains { $0["bearer"] != nil }, "\(route.method) \(route.path) takes a token too")
        }
    }

    @Test("request bodies name every field they take: unknown fields are refused")
    func closedBodies() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
        func resolve(_ schema: [String: Any]) -> [[String: Any]] {
            if let ref = schema["$ref"] as? String { return resolve(schemas[String(ref.split(separator: "/").last!)] ?? [:]) }
            if let choices = schema["oneOf"] as? [[String: Any]] { return choices.flatMap(resolve) }
            if schema["type"] as? String == "array", let items = schema["items"] as? [String: Any] { return resolve(items) }
            return [schema]
        }
        for (path, item) in paths {
            for (method, operation) in item {
                guard let body = ((((operation as? [String: Any])?["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"]
                    as? [String: Any])?["schema"] as? [String: Any] else { continue }
                for schema in resolve(body) {
                    #expect(schema["additionalProperties"] as? Bool == false, "\(method) \(path)")
                }
            }
        }
    }

    @Test("a served path answers another method with 405 and the methods it serves", arguments: TestBackend.all)
    func methodNotAllowed(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let put = try await t.client.send(.put, "/health")
            #expect(put.status == .methodNotAllowed)
            #expect(put.headers[.allow] == "GET")
            #expect(put.errorCode == "method_not_allowed")
            let users = try await t.client.send(.put, "/users/someone")
            #expect(users.status == .methodNotAllowed)
            #expect(users.headers[.allow] == "DELETE, GET, PATCH")
            // Not a path of the platform: still 404.
            #expect(try await t.client.send(.put, "/nowhere").status == .notFound)
        }
    }

    @Test("GET /openapi.json serves the document", arguments: TestBackend.all)
    func served(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let reply = try await t.client.send(.get, "/openapi.json")
            #expect(reply.status == .ok)
            #expect(reply["openapi"] as? String == "3.1.0")
        }
    }
}
