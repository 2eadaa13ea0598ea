import CMCCore
import Devices

/// The device mix of the CMC-IoT evaluation (5 parking areas, 300 bus stops, 100 traffic sensors,
/// 30 car-sharing areas, 5 bike docks per 440 devices) spread over Cagliari's centre.
public struct BenchmarkCity: Sendable {
    public static let unit: [(category: String, count: Int, searchRadius: Double)] = [
        ("parking", 5, 500), ("bus_stop", 300, 200), ("traffic", 100, 500), ("carsharing", 30, 300), ("bikesharing", 5, 500),
    ]
    public static let devicesPerUnit = unit.reduce(0) { $0 + $1.count }

    /// Cagliari's centre, from Sant'Avendrace to Poetto's start and from the port to Monte Urpinu.
    public static let south = 39.205, north = 39.245, west = 9.085, east = 9.145

    public var random: SplitMix64

    public init(seed: UInt64 = 2019) { random = SplitMix64(seed: seed) }

    public mutating func point() -> GeoPoint {
        try! GeoPoint(lat: Self.south + (Self.north - Self.south) * random.nextUnit(),
                      lon: Self.west + (Self.east - Self.west) * random.nextUnit())
    }

    /// `multiplier` units of the mix, with ids that say what they are (`bus_stop-000123`).
    public mutating func devices(multiplier: Int, owner: String) -> [Device] {
        let now = Timestamp.now()
        var devices: [Device] = []
        devices.reserveCapacity(multiplier * Self.devicesPerUnit)
        for (category, count, _) in Self.unit {
            for index in 0..<(count * multiplier) {
                let id = "\(category)-\(String(index).leftPadded(7))"
                devices.append(Device(id: id, category: category, connector: "http", location: point(), nickname: nil, public: true,
                                      metadata: [:], ownerID: owner, createdAt: now, updatedAt: now))
            }
        }
        return devices
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
