/// Bodies arriving block by block (RFC 7959 Block1), held on the I/O thread until their last
/// block comes.
///
/// libcoap tracks the blocks and answers 2.31 Continue; the bytes are kept here rather than by
/// libcoap, because libcoap would allocate whatever size the client's Size1 option claims. Each
/// body is bounded, so are the bodies held at once, and a body whose next block does not come
/// within a minute is forgotten.
struct CoAPBodies {
    /// A reading's values are at most 64 KiB of JSON; a batch of a few, with their times, fits.
    static let maximumBody = 256 * 1024
    static let maximumHeld = 256
    static let patience: Duration = .seconds(60)

    struct Key: Hashable {
        let session: OpaquePointer
        let path: [String]
        let query: [String: String]
    }

    enum Outcome: Equatable {
        /// More blocks are to come; answer 2.04 (libcoap turns it into 2.31 Continue).
        case waiting
        /// The last block came; here is the whole body.
        case complete([UInt8])
        /// Answer with this code and forget the body.
        case refused(Int, String)
    }

    private var held: [Key: (bytes: [UInt8], until: ContinuousClock.Instant)] = [:]

    /// One block: `data` at `offset`, more to come when `offset + data.count < total`.
    mutating func add(_ key: Key, data: [UInt8], offset: Int, total: Int, now: ContinuousClock.Instant = .now) -> Outcome {
        let last = offset + data.count >= total
        if offset == 0 && last { return .complete(data) }
        guard offset + data.count <= Self.maximumBody else {
            held[key] = nil
            return .refused(413, "a body is at most \(Self.maximumBody) bytes")
        }
        var bytes: [UInt8]
        if offset == 0 {
            held = held.filter { $0.value.until > now }
            guard held[key] != nil || held.count < Self.maximumHeld else { return .refused(503, "too many bodies arriving at once; retry") }
            bytes = []
        } else {
            if let existing = held[key], existing.bytes.count >= offset + data.count, !last,
               Array(existing.bytes[offset..<(offset + data.count)]) == data {
                return .waiting  // a block sent again, our 2.31 having been lost
            }
            guard let existing = held[key], existing.until > now, existing.bytes.count == offset else {
                held[key] = nil
                return .refused(408, "block at \(offset) does not follow the blocks received")
            }
            bytes = existing.bytes
        }
        bytes += data
        if last {
            held[key] = nil
            return .complete(bytes)
        }
        held[key] = (bytes, now + Self.patience)
        return .waiting
    }

    var count: Int { held.count }
}
