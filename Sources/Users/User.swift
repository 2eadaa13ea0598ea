import Auth
import CMCCore

/// A person with an account; the password hash never leaves the User service.
public struct User: Codable, Sendable, Equatable {
    public let id: String
    public var email: String
    public var name: String
    public var role: Role
    public let createdAt: Timestamp
    public var updatedAt: Timestamp
}

/// What the User tables hold beyond the public fields.
public struct StoredUser: Sendable {
    var user: User
    var passwordHash: String
}

enum Email {
    /// Lower-cased so sign-in does not depend on how the address was typed. The rule is the API
    /// document's `Email` pattern: at most 254 characters, one `@`, no white space or control
    /// characters, and a domain of two or more non-empty labels.
    static func normalize(_ email: String) throws -> String {
        // By scalar, as the pattern reads it: "@" followed by a combining mark is still an "@".
        let scalars = Array(email.unicodeScalars)
        let parts = scalars.split(separator: "@", omittingEmptySubsequences: false)
        guard scalars.count <= 254, parts.count == 2, !parts[0].isEmpty,
              !scalars.contains(where: { $0.isControl || $0.properties.isWhitespace }),
              case let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false), labels.count >= 2,
              !labels.contains(where: \.isEmpty) else {
            throw APIError.invalid("email", "must be an e-mail address such as ana@example.org")
        }
        return email.lowercased()
    }
}

enum Password {
    static func validate(_ password: String, field: String = "password") throws {
        guard password.unicodeScalars.count >= 8 else { throw APIError.invalid(field, "must have at least 8 characters") }
        // bcrypt reads 72 bytes at most; longer passwords would be silently truncated.
        guard password.utf8.count <= 72 else { throw APIError.invalid(field, "must be at most 72 bytes") }
    }
}

import Foundation
