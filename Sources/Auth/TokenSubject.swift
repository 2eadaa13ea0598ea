/// Whom a token speaks for, as the token stamps name it: a user, an application or a service.
public struct TokenSubject: Sendable, Hashable {
    public let kind: TokenKind
    public let id: String

    public init(_ kind: TokenKind, _ id: String) {
        self.kind = kind
        self.id = id
    }

    public static func user(_ id: String) -> TokenSubject { TokenSubject(.user, id) }
    public static func application(_ id: String) -> TokenSubject { TokenSubject(.application, id) }
    public static func microservice(_ name: String) -> TokenSubject { TokenSubject(.microservice, name) }

    var key: String { "\(kind.rawValue):\(id)" }
}
