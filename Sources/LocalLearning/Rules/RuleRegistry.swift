/// The learning rules by the names users type on the command line.
public enum RuleRegistry {
    public static let names = ["bp"]

    public static var help: String { names.joined(separator: ", ") }

    /// A fresh rule called `name`, or nil when there is none.
    public static func make(_ name: String) -> LearningRule? {
        switch name {
        case "bp": Backprop()
        default: nil
        }
    }
}
