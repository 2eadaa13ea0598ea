#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOPosix

/// Every address a host name resolves to, by the system's resolver on a thread of its own (it
/// blocks). An address literal in any form the C library accepts (`0x7f000001`, `2130706433`,
/// `127.1`) comes back as the address it means, so the policy judges what will be connected to.
enum AddressResolver {
    static func resolve(_ host: String) async throws -> [InternetAddress] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var results: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, nil, &hints, &results)
            guard status == 0, let first = results else { throw OutboundRefusal("\(host) does not resolve") }
            defer { freeaddrinfo(first) }
            var addresses: [InternetAddress] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let entry = cursor {
                if let sockaddr = entry.pointee.ai_addr {
                    switch Int32(entry.pointee.ai_family) {
                    case AF_INET:
                        let value = sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
                        addresses.append(.v4(value))
                    case AF_INET6:
                        let bytes = sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                            withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                        }
                        addresses.append(.v6(bytes))
                    default:
                        break
                    }
                }
                cursor = entry.pointee.ai_next
            }
            guard !addresses.isEmpty else { throw OutboundRefusal("\(host) has no IP address") }
            return addresses
        }
    }
}
