/// Options that rules take from the command line; each rule reads the ones that concern it.
public struct RuleOptions: Sendable, Equatable {
    /// How fixed random feedback matrices are drawn (fa, frsf, dfa).
    public var feedbackInitializer: Initializer = .xavierUniform
    /// Keep every weighted layer's ‖W‖_F at its initial value (fa, signfa, frsf, adafa, dfa).
    public var constrainWeights = false
    /// Class basis of the LLS rules.
    public var basis: ClassBasis = .square
    /// Softmax temperature of the LLS rules' local loss.
    public var temperature: Float = 0.5
    /// rec-LRA's settings.
    public var recLRA = RecursiveLRA.Configuration()
    /// SLL's settings (its unit size is `localUnit`).
    public var sll = SLL.Configuration()
    /// Consecutive blocks the greedy local rules (lls…, sll) train as one unit.
    public var localUnit = 1
    /// Where DFA's signal enters a block that ends in pooling.
    public var dfaInjection: DirectFeedbackAlignment.Injection = .beforePooling
    /// AugLocal's auxiliary depth d and pyramid coefficient τ.
    public var auxDepth = 2
    public var pyramid: Float = 0.5

    public init(feedbackInitializer: Initializer = .xavierUniform, constrainWeights: Bool = false,
                basis: ClassBasis = .square, temperature: Float = 0.5, recLRA: RecursiveLRA.Configuration = .init(),
                sll: SLL.Configuration = .init(), localUnit: Int = 1, auxDepth: Int = 2, pyramid: Float = 0.5,
                dfaInjection: DirectFeedbackAlignment.Injection = .beforePooling) {
        self.feedbackInitializer = feedbackInitializer
        self.constrainWeights = constrainWeights
        self.basis = basis
        self.temperature = temperature
        self.recLRA = recLRA
        self.sll = sll
        self.localUnit = localUnit
        self.auxDepth = auxDepth
        self.pyramid = pyramid
        self.dfaInjection = dfaInjection
    }

    /// `--feedback-init` names: xavier (Xavier-uniform), kaiming (Kaiming-uniform), uniform (U(±1/√fan-in)).
    public static let feedbackInitializers: [String: Initializer] = [
        "xavier": .xavierUniform, "kaiming": .kaimingUniform, "uniform": .pytorchDefault,
    ]
}

/// The learning rules by the names users type on the command line.
public enum RuleRegistry {
    public static let names = ["bp", "fa", "signfa", "frsf", "adafa", "dfa", "lls", "lls-m", "lls-mxm", "reclra", "sll", "dgl", "auglocal"]

    public static var help: String { names.joined(separator: ", ") }

    /// A fresh rule called `name` whose random state (feedback matrices) derives from `seed`, or nil when there is none.
    public static func make(_ name: String, seed: UInt64 = 1, options: RuleOptions = RuleOptions()) -> LearningRule? {
        let (initializer, constrain) = (options.feedbackInitializer, options.constrainWeights)
        switch name {
        case "bp": return Backprop()
        case "fa": return FeedbackAlignment(feedback: .random(initializer), constrainWeights: constrain, seed: seed)
        case "signfa": return FeedbackAlignment(feedback: .sign, constrainWeights: constrain, seed: seed)
        case "frsf": return FeedbackAlignment(feedback: .fixedMagnitudeSign(initializer), constrainWeights: constrain, seed: seed)
        case "adafa": return FeedbackAlignment(feedback: .transposeAtInit, constrainWeights: constrain, seed: seed)
        case "dfa": return DirectFeedbackAlignment(initializer: initializer, injection: options.dfaInjection, constrainWeights: constrain, seed: seed)
        case "lls", "lls-m", "lls-mxm":
            let modulation: LLSHead.Modulation = name == "lls" ? .none : (name == "lls-m" ? .vector : .matrix)
            return LLS(LLS.Configuration(basis: options.basis, temperature: options.temperature, modulation: modulation,
                                         unitSize: options.localUnit), seed: seed)
        case "sll":
            var configuration = options.sll
            configuration.unitSize = options.localUnit
            return SLL(configuration, seed: seed)
        case "reclra": return RecursiveLRA(options.recLRA, seed: seed)
        case "dgl": return DGL(seed: seed)
        case "auglocal": return AugLocal(depth: options.auxDepth, pyramid: options.pyramid, seed: seed)
        default: return nil
        }
    }
}
