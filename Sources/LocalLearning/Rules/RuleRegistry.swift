/// The learning rules by the names users type on the command line.
public enum RuleRegistry {
    public static let names = ["bp", "fa", "signfa", "frsf", "adafa", "dfa"]

    public static var help: String { names.joined(separator: ", ") }

    /// A fresh rule called `name` whose random state (feedback matrices) derives from `seed`, or nil when there is none.
    public static func make(_ name: String, seed: UInt64 = 1) -> LearningRule? {
        switch name {
        case "bp": Backprop()
        case "fa": FeedbackAlignment(feedback: .random(.xavierUniform), seed: seed)
        case "signfa": FeedbackAlignment(feedback: .sign, seed: seed)
        case "frsf": FeedbackAlignment(feedback: .fixedMagnitudeSign(.xavierUniform), seed: seed)
        case "adafa": FeedbackAlignment(feedback: .transposeAtInit, seed: seed)
        case "dfa": DirectFeedbackAlignment(initializer: .xavierUniform, seed: seed)
        default: nil
        }
    }
}
