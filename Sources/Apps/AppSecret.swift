import CMCCore
import Crypto
import Foundation

/// App secrets are 256 random bits, so a SHA-256 digest stores them safely and checks fast;
/// bcrypt's slowness only matters for guessable human passwords.
enum AppSecret {
    static func generate() -> String {
        "cmcs_" + RandomToken.make()
    }

    static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func matches(_ secret: String, hash: String) -> Bool {
        let candidate = Array(Self.hash(secret).utf8)
        let stored = Array(hash.utf8)
        guard candidate.count == stored.count else { return false }
        // Constant time, so the comparison leaks nothing about the stored digest.
        return zip(candidate, stored).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
