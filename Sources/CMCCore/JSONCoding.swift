import Foundation

/// The one JSON encoder: sorted keys, so the same value is always the same text (stored,
/// answered, signed).
public enum JSONCoding {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
