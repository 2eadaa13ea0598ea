import Testing

@testable import CoAP

/// The reassembly of Block1 bodies, block by block.
@Suite("CoAP block-wise bodies")
struct CoAPBodiesTests {
    static var key: CoAPBodies.Key { CoAPBodies.Key(session: OpaquePointer(bitPattern: 0x10)!, path: ["d", "x", "data"], query: [:]) }

    @Test("blocks in order make the body; a repeated block is taken once; a gap or a late block is refused")
    func order() {
        var bodies = CoAPBodies()
        let now = ContinuousClock.now
        #expect(bodies.add(Self.key, data: [1, 2], offset: 0, total: 5, now: now) == .waiting)
        #expect(bodies.add(Self.key, data: [1, 2], offset: 0, total: 5, now: now) == .waiting)
        #expect(bodies.add(Self.key, data: [3, 4], offset: 2, total: 5, now: now) == .waiting)
        #expect(bodies.add(Self.key, data: [3, 4], offset: 2, total: 5, now: now) == .waiting, "sent again: the 2.31 was lost")
        #expect(bodies.add(Self.key, data: [5], offset: 4, total: 5, now: now) == .complete([1, 2, 3, 4, 5]))
        #expect(bodies.count == 0)

        #expect(bodies.add(Self.key, data: [1, 2], offset: 0, total: 9, now: now) == .waiting)
        if case .refused(408, _) = bodies.add(Self.key, data: [7, 8], offset: 4, total: 9, now: now) {} else { Issue.record("a gap must be refused") }
        #expect(bodies.count == 0, "and the body forgotten")

        #expect(bodies.add(Self.key, data: [1, 2], offset: 0, total: 9, now: now) == .waiting)
        if case .refused(408, _) = bodies.add(Self.key, data: [3, 4], offset: 2, total: 9, now: now + .seconds(61)) {} else {
            Issue.record("a block after a minute's silence must be refused")
        }
    }

    @Test("a body is at most 256 KiB, and at most 256 are held at once")
    func bounds() {
        var bodies = CoAPBodies()
        let block = [UInt8](repeating: 0, count: 1024)
        var offset = 0
        var outcome = CoAPBodies.Outcome.waiting
        while case .waiting = outcome {
            outcome = bodies.add(Self.key, data: block, offset: offset, total: 1 << 30)
            offset += block.count
        }
        if case .refused(413, _) = outcome {} else { Issue.record("\(outcome)") }
        #expect(offset == CoAPBodies.maximumBody + block.count)
        for index in 0..<CoAPBodies.maximumHeld {
            let key = CoAPBodies.Key(session: OpaquePointer(bitPattern: 0x100 + index)!, path: [], query: [:])
            #expect(bodies.add(key, data: block, offset: 0, total: 4096) == .waiting)
        }
        let one = CoAPBodies.Key(session: OpaquePointer(bitPattern: 0x9999)!, path: [], query: [:])
        if case .refused(503, _) = bodies.add(one, data: block, offset: 0, total: 4096) {} else { Issue.record("the 257th must wait") }
    }
}
