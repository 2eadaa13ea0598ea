import CMCCore
import Crypto
import Foundation
import JWTKit
import NIOConcurrencyHelpers

/// Signs and verifies the platform's tokens with Ed25519 keys kept in the Auth tables.
///
/// Only the Auth service holds the private keys; other processes verify with `GET /auth/jwks`.
/// Revocations and token stamps are held in memory, loaded from the Auth tables, so a revoked token
/// stops working on the next request. A stamp retires every token of one subject at once: a token
/// works only if it was issued after its subject's stamp (and, for an application, after its
/// owner's), so changing a user's role or password, rotating an app's secret or deleting either
/// ends what the old tokens stood for.
public final class TokenAuthority: Sendable {
    static let issuer = "cmc"

    public struct IssuedToken: Codable, Sendable {
        public let token: String
        public let expiresAt: Timestamp
    }

    let repository: any AuthRepository
    private let keys: JWTKeyCollection
    private let signingKID: String
    private let publicKeys: [(kid: String, key: Curve25519.Signing.PublicKey)]
    private let revoked: NIOLockedValueBox<Set<String>>
    private let stamps: NIOLockedValueBox<[String: Timestamp]>
    /// Tokens already verified: a signature check costs more than the rest of a small request.
    private let verified = NIOLockedValueBox([String: Principal]())
    static let verifiedCacheSize = 10_000

    private init(repository: any AuthRepository, keys: JWTKeyCollection, signingKID: String,
                 publicKeys: [(kid: String, key: Curve25519.Signing.PublicKey)], revoked: Set<String>, stamps: [String: Timestamp]) {
        self.repository = repository
        self.keys = keys
        self.signingKID = signingKID
        self.publicKeys = publicKeys
        self.revoked = NIOLockedValueBox(revoked)
        self.stamps = NIOLockedValueBox(stamps)
    }

    /// Loads the stored keys, creating the first one on a new database.
    public static func load(repository: any AuthRepository) async throws -> TokenAuthority {
        var stored = try await repository.signingKeys()
        if stored.isEmpty {
            let key = Curve25519.Signing.PrivateKey()
            let kid = UUID().uuidString.lowercased()
            try await repository.addSigningKey(kid: kid, privateKey: Array(key.rawRepresentation))
            stored = try await repository.signingKeys()
        }
        let collection = JWTKeyCollection()
        var publicKeys: [(kid: String, key: Curve25519.Signing.PublicKey)] = []
        for (kid, bytes) in stored {
            let key = try Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
            await collection.add(eddsa: EdDSA.PrivateKey(backing: key), kid: JWKIdentifier(string: kid))
            publicKeys.append((kid, key.publicKey))
        }
        let revoked = try await repository.revokedTokens(after: .now())
        return TokenAuthority(repository: repository, keys: collection, signingKID: stored.last!.kid,
                              publicKeys: publicKeys, revoked: Set(revoked), stamps: try await repository.tokenStamps())
    }

    public func issue(kind: TokenKind, subject: String, role: Role? = nil, owner: String? = nil, lifetime: Duration) async throws -> IssuedToken {
        let now = Timestamp.now()
        let expires = now.adding(seconds: lifetime.components.seconds)
        let claims = TokenClaims(
            sub: .init(value: subject),
            exp: .init(value: Date(timeIntervalSince1970: TimeInterval(expires.secondsSince1970))),
            iat: .init(value: Date(timeIntervalSince1970: TimeInterval(now.secondsSince1970))),
            jti: .init(value: UUID().uuidString.lowercased()),
            iss: .init(value: Self.issuer),
            kind: kind, role: role, owner: owner, issuedMicroseconds: now.microseconds
        )
        let token = try await keys.sign(claims, kid: JWKIdentifier(string: signingKID))
        return IssuedToken(token: token, expiresAt: Timestamp(microseconds: expires.secondsSince1970 * 1_000_000))
    }

    public enum Rejection: Error, CustomStringConvertible {
        case malformed, badSignature, expired, revoked, superseded
        public var description: String {
            switch self {
            case .malformed: "token is not a valid JWT"
            case .badSignature: "token signature or claims do not verify"
            case .expired: "token has expired"
            case .revoked: "token has been revoked"
            case .superseded: "token was issued before its account changed; sign in again"
            }
        }
    }

    public func verify(_ token: String) async throws(Rejection) -> Principal {
        if let principal = verified.withLockedValue({ $0[token] }) {
            try check(principal)
            return principal
        }
        let principal = try await verifySignature(token)
        try check(principal)
        verified.withLockedValue { cache in
            if cache.count >= Self.verifiedCacheSize { cache.removeAll(keepingCapacity: true) }
            cache[token] = principal
        }
        return principal
    }

    private func verifySignature(_ token: String) async throws(Rejection) -> Principal {
        let claims: TokenClaims
        do {
            claims = try await keys.verify(token, as: TokenClaims.self)
        } catch let error as JWTError {
            if error.errorType == .claimVerificationFailure, error.failedClaim is ExpirationClaim { throw .expired }
            if error.errorType == .malformedToken { throw .malformed }
            throw .badSignature
        } catch {
            throw .malformed
        }
        return Principal(
            kind: claims.kind, subject: claims.sub.value, role: claims.role, owner: claims.owner,
            tokenID: claims.jti.value, expiresAt: Timestamp(seconds: claims.exp.value.timeIntervalSince1970),
            issuedAt: claims.issuedMicroseconds.map(Timestamp.init(microseconds:)) ?? Timestamp(seconds: claims.iat.value.timeIntervalSince1970)
        )
    }

    /// Whether a verified token still stands: not expired, not revoked, issued after its subject's
    /// (and its owner's) last change. Long-lived streams ask this again while they run.
    public func isCurrent(_ principal: Principal) -> Bool {
        (try? check(principal)) != nil
    }

    private func check(_ principal: Principal) throws(Rejection) {
        guard principal.expiresAt > .now() else { throw .expired }
        if revoked.withLockedValue({ $0.contains(principal.tokenID) }) { throw .revoked }
        let stale = stamps.withLockedValue { stamps -> Bool in
            if let stamp = stamps[TokenSubject(principal.kind, principal.subject).key], principal.issuedAt <= stamp { return true }
            if let owner = principal.owner, let stamp = stamps[TokenSubject(.user, owner).key], principal.issuedAt <= stamp { return true }
            return false
        }
        if stale { throw .superseded }
    }

    /// Retires every token issued so far to `subject` (and, for a user, to that user's applications).
    public func retireTokens(of subject: TokenSubject) async throws {
        let now = Timestamp.now()
        try await repository.stampTokens(subject: subject.key, validAfter: now)
        stamps.withLockedValue { $0[subject.key] = now }
    }

    public func revoke(_ principal: Principal) async throws {
        try await repository.revoke(tokenID: principal.tokenID, expiresAt: principal.expiresAt)
        revoked.withLockedValue { _ = $0.insert(principal.tokenID) }
    }

    /// The public half of every key, as a JSON Web Key Set.
    public var jwks: JWKSet {
        JWKSet(keys: publicKeys.map { kid, key in
            JWKSet.Key(kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", kid: kid, x: Data(key.rawRepresentation).base64URLEncodedString())
        })
    }
}

public struct JWKSet: Codable, Sendable {
    public struct Key: Codable, Sendable {
        public let kty: String
        public let crv: String
        public let alg: String
        public let use: String
        public let kid: String
        public let x: String
    }
    public let keys: [Key]
}
