import Foundation

/// A WGS 84 position.
public struct GeoPoint: Codable, Sendable, Hashable {
    public let lat: Double
    public let lon: Double

    public init(lat: Double, lon: Double) throws {
        guard lat.isFinite, (-90...90).contains(lat) else { throw APIError.invalid("location.lat", "must be a latitude from -90 to 90") }
        guard lon.isFinite, (-180...180).contains(lon) else { throw APIError.invalid("location.lon", "must be a longitude from -180 to 180") }
        self.lat = lat
        self.lon = lon
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case lat, lon }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(lat: try container.decode(Double.self, forKey: .lat), lon: try container.decode(Double.self, forKey: .lon))
    }

    /// WGS 84's mean radius, (2a + b) / 3: the sphere PostGIS's `geography` measures on when asked
    /// for spherical distances, so both backends give the same metres.
    public static let earthRadius = 6_371_008.7714

    /// Great-circle distance in metres (haversine).
    public func distance(to other: GeoPoint) -> Double {
        let dLat = (other.lat - lat) * .pi / 180
        let dLon = (other.lon - lon) * .pi / 180
        let a = sin(dLat / 2) * sin(dLat / 2) + cos(lat * .pi / 180) * cos(other.lat * .pi / 180) * sin(dLon / 2) * sin(dLon / 2)
        return 2 * Self.earthRadius * asin(min(1, sqrt(a)))
    }

    /// A latitude/longitude box that contains every point within `radius` metres.
    public func boundingBox(radius: Double) -> GeoBox {
        let dLat = radius / Self.earthRadius * 180 / .pi
        let minLat = max(-90, lat - dLat), maxLat = min(90, lat + dLat)
        let widest = max(abs(minLat), abs(maxLat))
        guard widest < 89.9 else { return GeoBox(minLon: -180, minLat: minLat, maxLon: 180, maxLat: maxLat) }
        let dLon = dLat / cos(widest * .pi / 180)
        guard lon - dLon >= -180, lon + dLon <= 180 else { return GeoBox(minLon: -180, minLat: minLat, maxLon: 180, maxLat: maxLat) }
        return GeoBox(minLon: lon - dLon, minLat: minLat, maxLon: lon + dLon, maxLat: maxLat)
    }
}
