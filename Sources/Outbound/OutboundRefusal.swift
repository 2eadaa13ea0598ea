/// A fetch the outbound policy does not make, or that failed in a way told without detail.
public struct OutboundRefusal: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
