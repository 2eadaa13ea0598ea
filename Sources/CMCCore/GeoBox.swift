/// A box of latitudes and longitudes: a map's view, a filter of events and devices.
public struct GeoBox: Sendable, Equatable {
    public let minLon: Double, minLat: Double, maxLon: Double, maxLat: Double

    public init(minLon: Double, minLat: Double, maxLon: Double, maxLat: Double) {
        self.minLon = minLon
        self.minLat = minLat
        self.maxLon = maxLon
        self.maxLat = maxLat
    }

    /// `[minLon, minLat, maxLon, maxLat]`, the order of GeoJSON and most map libraries.
    public init(_ values: [Double?], field: String) throws {
        guard values.count == 4, let minLon = values[0], let minLat = values[1], let maxLon = values[2], let maxLat = values[3],
              (-180...180).contains(minLon), (-180...180).contains(maxLon), (-90...90).contains(minLat), (-90...90).contains(maxLat),
              minLon <= maxLon, minLat <= maxLat
        else {
            throw APIError.invalid(field, "must be minLon,minLat,maxLon,maxLat in degrees, e.g. 9.10,39.20,9.14,39.23")
        }
        self.init(minLon: minLon, minLat: minLat, maxLon: maxLon, maxLat: maxLat)
    }

    /// `minLon,minLat,maxLon,maxLat`, as in a query string.
    public init(parsing text: String, field: String) throws {
        try self.init(text.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) }, field: field)
    }

    public func contains(_ point: GeoPoint) -> Bool {
        (minLat...maxLat).contains(point.lat) && (minLon...maxLon).contains(point.lon)
    }
}
