import CMCCore
import Events
import Foundation

/// `POST /subscriptions`: `{"url": "https://...", "filter": {"type", "category", "device", "bbox"}}`.
struct WebhookRegistration: Decodable {
    let url: String
    let filter: FilterBody

    enum CodingKeys: String, CodingKey, CaseIterable { case url, filter }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let url = try c.decode(String.self, forKey: .url)
        guard url.utf8.count <= 2048, let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = parsed.host, !host.isEmpty
        else {
            throw APIError.invalid("url", "must be an http:// or https:// URL with a host")
        }
        self.url = url
        filter = try c.decodeIfPresent(FilterBody.self, forKey: .filter) ?? FilterBody()
    }
}

struct FilterBody: Decodable {
    var type: [String]?
    var category: [String]?
    var device: [String]?
    var bbox: [Double]?

    enum CodingKeys: String, CodingKey, CaseIterable { case type, category, device, bbox }

    init() {}

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent([String].self, forKey: .type)
        category = try c.decodeIfPresent([String].self, forKey: .category)
        device = try c.decodeIfPresent([String].self, forKey: .device)
        bbox = try c.decodeIfPresent([Double].self, forKey: .bbox)
    }

    func filter(viewer: EventFilter.Viewer) throws -> EventFilter {
        let kinds = try type.map { try EventFilter.kinds($0, field: "filter.type") }
        let box = try bbox.map { try GeoBox($0, field: "filter.bbox") }
        return EventFilter(viewer: viewer, kinds: kinds, categories: category.map(Set.init), devices: device.map(Set.init), boundingBox: box)
    }
}
