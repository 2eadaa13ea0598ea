/// An IP address as the outbound policy judges it: is it somewhere on the public internet?
///
/// Everything an operator or a user cannot name as a fetch target without an admin's say-so is
/// here: loopback, unspecified, private (RFC 1918, unique-local), carrier-grade NAT, link-local
/// (which holds the cloud metadata services at 169.254.169.254), benchmarking, documentation,
/// multicast and reserved ranges, and IPv6 forms that embed one of these IPv4 addresses.
public enum InternetAddress: Equatable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6([UInt8])

    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
        case .v6(let bytes):
            return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
        }
    }

    /// Why the address is not a public one, or nil when it is.
    public var restriction: String? {
        switch self {
        case .v4(let value):
            return Self.restriction(v4: value)
        case .v6(let bytes):
            if bytes.allSatisfy({ $0 == 0 }) { return "unspecified" }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return "loopback" }
            // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64): the IPv4 inside decides.
            let embedded = UInt32(bytes[12]) << 24 | UInt32(bytes[13]) << 16 | UInt32(bytes[14]) << 8 | UInt32(bytes[15])
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && ((bytes[10] == 0xFF && bytes[11] == 0xFF) || (bytes[10] == 0 && bytes[11] == 0)) {
                return Self.restriction(v4: embedded).map { "\($0) (in IPv6)" }
            }
            if bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xFF && bytes[3] == 0x9B && bytes[4..<12].allSatisfy({ $0 == 0 }) {
                return Self.restriction(v4: embedded).map { "\($0) (in IPv6)" }
            }
            if bytes[0] & 0xFE == 0xFC { return "unique-local" }
            if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 { return "link-local" }
            if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0xC0 { return "site-local" }
            if bytes[0] == 0xFF { return "multicast" }
            if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0D && bytes[3] == 0xB8 { return "documentation" }
            return nil
        }
    }

    static func restriction(v4 value: UInt32) -> String? {
        func within(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ bits: UInt32) -> Bool {
            let network = a << 24 | b << 16 | c << 8 | d
            let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
            return value & mask == network
        }
        if within(0, 0, 0, 0, 8) { return "unspecified" }
        if within(127, 0, 0, 0, 8) { return "loopback" }
        if within(10, 0, 0, 0, 8) || within(172, 16, 0, 0, 12) || within(192, 168, 0, 0, 16) { return "private" }
        if within(100, 64, 0, 0, 10) { return "carrier-grade NAT" }
        if within(169, 254, 0, 0, 16) { return "link-local" }
        if within(192, 0, 0, 0, 24) || within(198, 18, 0, 0, 15) { return "reserved" }
        if within(192, 0, 2, 0, 24) || within(198, 51, 100, 0, 24) || within(203, 0, 113, 0, 24) { return "documentation" }
        if within(224, 0, 0, 0, 4) { return "multicast" }
        if within(240, 0, 0, 0, 4) { return "reserved" }
        return nil
    }
}
