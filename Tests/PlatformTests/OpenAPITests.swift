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

    @Test("GET /openapi.json serves the document", arguments: TestBackend.all)
    func served(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            let reply = try await t.client.send(.get, "/openapi.json")
            #expect(reply.status == .ok)
            #expect(reply["openapi"] as? String == "3.1.0")
        }
    }
}
