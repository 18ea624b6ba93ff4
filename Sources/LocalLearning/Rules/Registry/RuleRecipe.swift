/// The optimizer settings a rule gets in a comparison unless the user overrides them: each rule's
/// published recipe where it has one, otherwise the backprop reference's.
///
/// Each rule's `RuleDescriptor` declares it: Adam 1e-3 (the PyTorch reference's smallconv recipe,
/// `RuleRecipe.reference`) unless the rule names its own (lls, lls-m, lls-mxm: AdamW 5e-3, decay 0,
/// from the LLS reference code).
public struct RuleRecipe: Sendable, Equatable, Codable {
    public var optimizer: OptimizerKind
    public var learningRate: Float
    public var momentum: Float = 0.9
    public var weightDecay: Float = 0

    public init(optimizer: OptimizerKind, learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0) {
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// The recipe `rule`'s descriptor declares.
    public static func defaults(for rule: String) -> RuleRecipe { RuleRegistry.descriptor(named: rule)?.recipe ?? .reference }

    public static let keys = ["optimizer", "lr", "momentum", "weight-decay"]

    /// One `--set` item: `RULE.KEY=VALUE`, where RULE is a rule name or `all`.
    public struct Override: Sendable, Equatable {
        public var rule: String
        public var key: String
        public var value: String

        public init(parsing item: String) throws {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            let target = parts.first?.split(separator: ".", maxSplits: 1).map(String.init) ?? []
            guard parts.count == 2, target.count == 2, !parts[1].isEmpty else {
                throw RecipeError("bad --set '\(item)'; expected RULE.KEY=VALUE, e.g. lls.lr=5e-3")
            }
            guard target[0] == "all" || RuleRegistry.names.contains(target[0]) else {
                throw RecipeError("--set '\(item)': unknown rule '\(target[0])'; expected all or one of \(RuleRegistry.help)")
            }
            let ruleOptions = RuleRegistry.descriptor(named: target[0])?.options.map(\.name) ?? []
            guard RuleRecipe.keys.contains(target[1]) || ruleOptions.contains(target[1]) else {
                throw RecipeError("--set '\(item)': unknown key '\(target[1])'; expected one of \((RuleRecipe.keys + ruleOptions).joined(separator: ", "))")
            }
            (rule, key, value) = (target[0], target[1], parts[1])
            var probe = RuleRecipe.defaults(for: "bp")
            try probe.apply(self)
        }
    }

    /// Applies a recipe key; a rule option (any other key) is the rule's, not the recipe's.
    public mutating func apply(_ override: Override) throws {
        guard RuleRecipe.keys.contains(override.key) else { return }
        switch override.key {
        case "optimizer":
            guard let kind = OptimizerKind(rawValue: override.value) else {
                throw RecipeError("--set \(override.rule).optimizer: unknown optimizer '\(override.value)'")
            }
            optimizer = kind
        default:
            guard let number = Float(override.value), number.isFinite, number >= 0 else {
                throw RecipeError("--set \(override.rule).\(override.key): '\(override.value)' is not a number ≥ 0")
            }
            switch override.key {
            case "lr": learningRate = number
            case "momentum": momentum = number
            default: weightDecay = number
            }
        }
    }

    /// The defaults for `rule` with the matching overrides applied in order (`all` first).
    public static func resolve(_ rule: String, overrides: [Override]) throws -> RuleRecipe {
        var recipe = defaults(for: rule)
        for o in overrides where o.rule == "all" { try recipe.apply(o) }
        for o in overrides where o.rule == rule { try recipe.apply(o) }
        return recipe
    }
}

/// A bad `--set` item or an unreadable run log in a comparison.
public struct RecipeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
