import Foundation
import Outbound
import Testing

/// The outbound policy's judgement of addresses, and of URLs whose hosts resolve to them.
@Suite("Outbound policy")
struct OutboundPolicyTests {
    @Test("loopback, private, link-local, metadata and their IPv6 forms are not public; public addresses are")
    func classification() {
        let restricted: [InternetAddress] = [
            .v4(0x7F00_0001), .v4(0x7F01_0203), .v4(0x0A00_0001), .v4(0xAC10_0001), .v4(0xAC1F_FFFF), .v4(0xC0A8_0101),
            .v4(0xA9FE_A9FE), .v4(0x6440_0001), .v4(0x0000_0000), .v4(0xE000_0001), .v4(0xFFFF_FFFF), .v4(0xC612_0001),
            .v6(Array(repeating: 0, count: 15) + [1]), .v6(Array(repeating: 0, count: 16)),
            .v6([0xFE, 0x80] + Array(repeating: 0, count: 13) + [1]), .v6([0xFD, 0x12] + Array(repeating: 0, count: 14)),
            .v6(Array(repeating: 0, count: 10) + [0xFF, 0xFF, 127, 0, 0, 1]), .v6(Array(repeating: 0, count: 10) + [0xFF, 0xFF, 169, 254, 169, 254]),
            .v6([0, 0x64, 0xFF, 0x9B] + Array(repeating: 0, count: 8) + [10, 1, 2, 3]), .v6([0xFF, 0x02] + Array(repeating: 0, count: 14)),
        ]
        for address in restricted { #expect(address.restriction != nil, "\(address)") }
        let open: [InternetAddress] = [
            .v4(0x5DB8_D70E), .v4(0x0808_0808), .v4(0xAC20_0001), .v4(0x6480_0001), .v4(0xA9FF_0001),
            .v6([0x2A, 0x00, 0x14, 0x50] + Array(repeating: 0, count: 11) + [1]),
            .v6(Array(repeating: 0, count: 10) + [0xFF, 0xFF, 8, 8, 8, 8]),
        ]
        for address in open { #expect(address.restriction == nil, "\(address)") }
        #expect(InternetAddress.v4(0xA9FE_A9FE).restriction == "link-local")
    }

    @Test("every spelling of a loopback or metadata host is refused by what it resolves to; an allowed host passes")
    func spellings() async throws {
        let policy = OutboundPolicy()
        for url in ["http://127.0.0.1:8080/", "http://localhost/", "http://0x7f000001/", "http://2130706433/", "http://127.1/",
                    "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/",
                    "http://0.0.0.0/", "ftp://127.0.0.1/", "http:///nohost"] {
            await #expect(throws: OutboundRefusal.self, "\(url)") { try await policy.check(URL(string: url)!) }
        }
        let allowed = OutboundPolicy(allowList: "127.0.0.1:8090, feeds.internal")
        try await allowed.check(URL(string: "http://127.0.0.1:8090/gbfs.json")!)
        try await allowed.check(URL(string: "https://FEEDS.internal/x")!)
        await #expect(throws: OutboundRefusal.self) { try await allowed.check(URL(string: "http://127.0.0.1:8091/")!) }
    }
}
