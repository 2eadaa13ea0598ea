/// A name people give a thing (their own name, an application's): what the API document's
/// `Name` schema says, so that whatever the document allows is taken as sent and stored as sent.
public enum DisplayName {
    /// 1 to `maximum` Unicode scalars (what JSON Schema's `maxLength` counts), no control
    /// characters, and no white space at either end: a name that looks empty or starts with an
    /// invisible character is a mistake, and trimming it would store something else than was sent.
    public static func validate(_ name: String, field: String = "name", maximum: Int = 200) throws -> String {
        let scalars = name.unicodeScalars
        guard (1...maximum).contains(scalars.count) else { throw APIError.invalid(field, "must have 1 to \(maximum) characters") }
        guard !scalars.contains(where: \.isControl) else { throw APIError.invalid(field, "must not contain control characters") }
        guard let first = scalars.first, let last = scalars.last, !first.properties.isWhitespace, !last.properties.isWhitespace else {
            throw APIError.invalid(field, "must not begin or end with white space")
        }
        return name
    }
}

extension Unicode.Scalar {
    /// General category Cc: C0, DEL and C1.
    public var isControl: Bool { value < 0x20 || (0x7F...0x9F).contains(value) }
}
