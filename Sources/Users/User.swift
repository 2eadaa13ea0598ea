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
struct StoredUser: Sendable {
    var user: User
    var passwordHash: String
}

enum Email {
    /// Lower-cased so sign-in does not depend on how the address was typed.
    static func normalize(_ email: String) throws -> String {
        let trimmed = email.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard trimmed.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !trimmed.contains(" ") else {
            throw APIError.invalid("email", "must be an e-mail address such as ana@example.org")
        }
        return trimmed
    }
}

enum Password {
    static func validate(_ password: String, field: String = "password") throws {
        guard password.count >= 8 else { throw APIError.invalid(field, "must have at least 8 characters") }
        // bcrypt reads 72 bytes at most; longer passwords would be silently truncated.
        guard password.utf8.count <= 72 else { throw APIError.invalid(field, "must be at most 72 bytes") }
    }
}

import Foundation
