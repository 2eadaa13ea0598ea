import Foundation
import JWTKit

/// The JWT body of every token the platform signs.
struct TokenClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var jti: IDClaim
    var iss: IssuerClaim
    var kind: TokenKind
    var role: Role?
    var owner: String?
    /// `iat` to the microsecond: a token signed in the second its account changed is told apart.
    var issuedMicroseconds: Int64?

    enum CodingKeys: String, CodingKey {
        case sub, exp, iat, jti, iss, kind, role, owner
        case issuedMicroseconds = "iat_us"
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        guard iss.value == TokenAuthority.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "unknown issuer") }
    }
}
