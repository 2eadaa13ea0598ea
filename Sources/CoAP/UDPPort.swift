import CCoAP
#if canImport(Glibc)
import Glibc
#endif

public enum UDPPort {
    /// A UDP port of 127.0.0.1 free at the moment of asking (for tests and benchmarks).
    public static func free() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CoAPError("no free UDP port") }
        return UInt16(bigEndian: address.sin_port)
    }
}
