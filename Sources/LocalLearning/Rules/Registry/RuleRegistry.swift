/// The learning rules by the names users type on the command line. A new rule is its own file
/// with a `descriptor`, plus one line here.
public enum RuleRegistry {
    public static var all: [RuleDescriptor] {
        [
            Backprop.descriptor,
            FeedbackAlignment.descriptor(.fa),
            FeedbackAlignment.descriptor(.signfa),
            FeedbackAlignment.descriptor(.frsf),
            FeedbackAlignment.descriptor(.adafa),
            DirectFeedbackAlignment.descriptor,
            LLS.descriptor(.none),
            LLS.descriptor(.vector),
            LLS.descriptor(.matrix),
            RecursiveLRA.descriptor,
            SLL.descriptor,
            DGL.descriptor,
            AugLocal.descriptor,
            PEPITA.descriptor,
            ForwardForward.descriptor,
            PredSim.descriptor,
            InfoPro.descriptor,
        ]
    }

    public static var names: [String] { all.map(\.name) }

    public static var help: String { names.joined(separator: ", ") }

    /// The rule called `name`, or nil.
    public static func descriptor(named name: String) -> RuleDescriptor? { all.first { $0.name == name } }

    /// The rule called `name`, or an error naming the known ones.
    public static func descriptor(for name: String) throws -> RuleDescriptor {
        guard let descriptor = descriptor(named: name) else { throw RuleOptionError("unknown rule '\(name)'; expected one of: \(help)") }
        return descriptor
    }

    /// A fresh rule called `name` with `options` (option name → value) whose random state derives
    /// from `seed`; nil for an unknown name or a bad option (`RuleDescriptor.make` says which).
    public static func make(_ name: String, seed: UInt64 = 1, options: [String: String] = [:]) -> LearningRule? {
        try? descriptor(named: name)?.make(seed: seed, options: options)
    }
}
