import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Where the platform may fetch from on behalf of its users: the URLs of data sources added over
/// the API and of webhook subscriptions. Only public internet addresses, unless an admin allows a
/// host by name (`CMC_OUTBOUND_ALLOW`, `host` or `host:port`).
///
/// The check is made on the addresses the host resolves to, and the connection is then made to
/// the address that was checked (the request keeps its host name for TLS and `Host`), so a name
/// that resolves differently the second time (DNS rebinding) gains nothing. Redirects are
/// followed by the policy, each hop checked again.
public struct OutboundPolicy: Sendable {
    public var allowedHosts: Set<String>
    public var maximumRedirects: Int

    public init(allowedHosts: Set<String> = [], maximumRedirects: Int = 5) {
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
        self.maximumRedirects = maximumRedirects
    }

    /// From `CMC_OUTBOUND_ALLOW`: hosts separated by commas.
    public init(allowList: String?) {
        self.init(allowedHosts: Set((allowList ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }))
    }

    func allows(host: String, port: Int?) -> Bool {
        let host = host.lowercased()
        return allowedHosts.contains(host) || port.map { allowedHosts.contains("\(host):\($0)") } == true
    }

    /// Refuses what the policy would refuse to fetch now (it is checked again at each fetch).
    public func check(_ url: URL) async throws {
        _ = try await pin(url)
    }

    /// The address to connect to for `url` (nil: an allowed host, resolved as usual), or a refusal.
    func pin(_ url: URL) async throws -> (host: String, address: String)? {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let raw = url.host, !raw.isEmpty else {
            throw OutboundRefusal("\(url.absoluteString) is not an http:// or https:// URL with a host")
        }
        let host = raw.hasPrefix("[") ? String(raw.dropFirst().dropLast()) : raw
        if allows(host: host, port: url.port) { return nil }
        let addresses = try await AddressResolver.resolve(host)
        if let restricted = addresses.first(where: { $0.restriction != nil }) {
            throw OutboundRefusal("\(host) is a \(restricted.restriction!) address; the platform fetches only from public addresses unless an admin allows the host")
        }
        return (host, addresses[0].description)
    }

    /// Sends `request` if the policy admits its URL, connecting to the address it checked, and
    /// hands the answer to `body` (the connection lasts as long as `body`). With `followRedirects`,
    /// 301/302/303/307/308 are followed (GET), each new URL checked; headers named in `sensitive`
    /// are not sent to another origin.
    public func execute<Result: Sendable>(_ request: HTTPClientRequest, timeout: TimeAmount, followRedirects: Bool,
                                          sensitive: Set<String> = [],
                                          _ body: (HTTPClientResponse) async throws -> Result) async throws -> Result {
        var request = request
        let deadline = NIODeadline.now() + timeout
        guard let first = URL(string: request.url) else { throw OutboundRefusal("\(request.url) is not a URL") }
        let origin = Self.origin(first)
        var hops = 0
        while true {
            guard let url = URL(string: request.url) else { throw OutboundRefusal("\(request.url) is not a URL") }
            var configuration = HTTPClient.Configuration()
            configuration.redirectConfiguration = .disallow
            if let pinned = try await pin(url) { configuration.dnsOverride = [pinned.host: pinned.address] }
            let hop: Hop<Result> = try await HTTPClient.withHTTPClient(configuration: configuration) { client in
                let response = try await client.execute(request, deadline: deadline)
                if followRedirects, [301, 302, 303, 307, 308].contains(response.status.code), let location = response.headers.first(name: "location") {
                    return .redirect(URL(string: location, relativeTo: url)?.absoluteString ?? location)
                }
                return .answer(try await body(response))
            }
            switch hop {
            case .answer(let result):
                return result
            case .redirect(let next):
                hops += 1
                guard hops <= maximumRedirects else { throw OutboundRefusal("more than \(maximumRedirects) redirects") }
                request.url = next
                request.method = .GET
                request.body = nil
                if let nextURL = URL(string: next), Self.origin(nextURL) != origin {
                    for name in sensitive { request.headers.remove(name: name) }
                }
            }
        }
    }

    enum Hop<Answer: Sendable>: Sendable {
        case answer(Answer)
        case redirect(String)
    }

    /// scheme://host:port, the unit credentials are sent to.
    public static func origin(_ url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? ""
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(url.host?.lowercased() ?? ""):\(port)"
    }
}
