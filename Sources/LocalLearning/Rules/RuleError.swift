/// A rule that cannot run as configured or on a given model.
public struct RuleError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
