import Auth
import CMCTesting
import Foundation
import Platform
import Testing

/// Every route against every kind of caller: the default rules are what the platform enforces.
@Suite("Authorization matrix")
struct AuthorizationMatrixTests {
    enum Caller: String, CaseIterable {
        case anonymous, microservice, application, admin, `operator`, citizen, resident

        var audiences: Set<Audience> {
            switch self {
            case .anonymous: [.anonymous]
            case .microservice: [.microservice]
            case .application: [.application]
            case .admin: [.user, .admin]
            case .operator: [.user, .operator]
            case .citizen: [.user, .citizen]
            case .resident: [.user, .resident]
            }
        }
    }

    @Test("token kind x role x route", arguments: TestBackend.all)
    func matrix(backend: TestBackend) async throws {
        try await TestPlatform.run(backend) { t in
            var tokens: [Caller: String] = [.admin: t.adminToken, .microservice: try await t.microserviceToken()]
            for role in [Role.operator, .citizen, .resident] {
                tokens[Caller(rawValue: role.rawValue)!] = try await t.user(role.rawValue, role: role).token
            }
            tokens[.application] = try await t.application(ownerToken: tokens[.citizen]!).token

            var checked = 0
            for route in Platform.routes where !(route.method == "DELETE" && route.path == "/auth/rules") {
                var uri = route.path.replacingOccurrences(of: "{id}", with: "missing").replacingOccurrences(of: "{deviceId}", with: "missing")
                // The event streams never end; a bad filter makes them answer 400 once the rule has passed.
                if route.path.hasPrefix("/events") { uri += "?bbox=none" }
                let body: Any? = ["POST", "PUT", "PATCH"].contains(route.method) ? [String: Any]() : nil
                for caller in Caller.allCases {
                    let reply = try await t.client.send(.init(rawValue: route.method)!, uri, token: tokens[caller], body: body)
                    let admitted = route.defaultAllow.contains(.anonymous) || !caller.audiences.isDisjoint(with: route.defaultAllow)
                    if admitted {
                        #expect(reply.status != .unauthorized && reply.status != .forbidden,
                                "\(caller) should pass the rule of \(route.method) \(route.path): \(reply.text)")
                    } else {
                        #expect(reply.status == (caller == .anonymous ? .unauthorized : .forbidden),
                                "\(caller) should be refused \(route.method) \(route.path): \(reply.status.code) \(reply.text)")
                    }
                    #expect(reply.status.code < 500, "\(caller) \(route.method) \(uri): \(reply.text)")
                    checked += 1
                }
            }
            #expect(checked >= Platform.routes.count * 6)
        }
    }
}
