import CMCCore
import Foundation

/// Opaque page cursors: the key of the last item, base64url-encoded so clients don't build them.
public enum Cursor {
    public static func encode(_ key: String) -> String {
        Data(key.utf8).base64URLEncodedString()
    }

    public static func decode(_ cursor: String, field: String) throws -> String {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let key = String(data: data, encoding: .utf8) else {
            throw APIError.invalid(field, "is not a cursor this API returned")
        }
        return key
    }
}
