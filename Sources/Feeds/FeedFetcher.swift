import AsyncHTTPClient
import NIOHTTP1
import Foundation
import NIOCore
import NIOFoundationCompat
import Outbound

/// Reads a feed's bytes from `http(s)://` or `file://`, with a time limit and a size cap.
public struct FeedFetcher: Sendable {
    public var client: HTTPClient
    public var maximumBytes: Int

    public init(client: HTTPClient = .shared, maximumBytes: Int = 256 << 20) {
        self.client = client
        self.maximumBytes = maximumBytes
    }

    /// `guardedBy`: fetched only where the policy admits (http and https only), redirects checked too.
    public func fetch(_ address: String, timeout: Duration, headers: [(String, String)] = [], guardedBy policy: OutboundPolicy? = nil) async throws -> Data {
        guard let url = URL(string: address), let scheme = url.scheme?.lowercased() else {
            throw FeedError("\(address) is not a URL")
        }
        switch scheme {
        case "file":
            if policy != nil { throw FeedError("\(address): only http and https URLs are read") }
            do {
                let data = try Data(contentsOf: url)
                guard data.count <= maximumBytes else { throw FeedError("\(address) is larger than \(maximumBytes) bytes") }
                return data
            } catch let error as FeedError {
                throw error
            } catch {
                throw FeedError("cannot read \(url.path): \((error as NSError).localizedDescription)")
            }
        case "http", "https":
            var request = HTTPClientRequest(url: address)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            do {
                if let policy {
                    return try await policy.execute(request, timeout: TimeAmount(timeout), followRedirects: true, sensitive: Set(headers.map(\.0))) { response in
                        try await body(of: response, address)
                    }
                }
                return try await body(of: try await client.execute(request, timeout: TimeAmount(timeout)), address)
            } catch let error as FeedError {
                throw error
            } catch let refusal as OutboundRefusal {
                throw FeedError("\(address): \(refusal)")
            } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                throw FeedError("\(address) did not answer within \(timeout.components.seconds) s")
            } catch {
                throw FeedError("\(address): \(error)")
            }
        default:
            throw FeedError("\(address): only http, https and file URLs are read")
        }
    }

    private func body(of response: HTTPClientResponse, _ address: String) async throws -> Data {
            guard (200..<300).contains(response.status.code) else {
                throw FeedError("\(address) answered HTTP \(response.status.code)")
            }
            do {
                return Data(buffer: try await response.body.collect(upTo: maximumBytes))
            } catch is NIOTooManyBytesError {
                throw FeedError("\(address) is larger than \(maximumBytes) bytes")
            } catch {
                throw FeedError("\(address): \(error)")
            }
    }
}
