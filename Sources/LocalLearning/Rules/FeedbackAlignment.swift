/// Feedback alignment (Lillicrap et al., 2016) and its sign-concordant variants: every weighted layer
/// sends its error to its input through a feedback matrix B of W's shape instead of W. Weight
/// gradients stay the exact local outer products; activations, pooling and BatchNorm backpropagate
/// as usual.
public final class FeedbackAlignment: LearningRule {
    public enum Feedback: Sendable, Equatable {
        /// FA: a fixed random B drawn once from the initialiser.
        case random(Initializer)
        /// sign-FA: B = s·sign(W), recomputed from the current W at every step, with s the standard
        /// deviation of W at initialisation (its initialiser's, up to sampling).
        case sign
        /// frSF: B = |M| ∘ sign(W) with a fixed random M drawn from the initialiser.
        case fixedMagnitudeSign(Initializer)
        /// adaFA: B = W at the first step, then fixed.
        case transposeAtInit

        /// B is a stored matrix (FA, adaFA) rather than one derived from the current W.
        public var isFixed: Bool {
            switch self {
            case .random, .transposeAtInit: true
            case .sign, .fixedMagnitudeSign: false
            }
        }
    }

    public let feedback: Feedback
    /// Present when `--constrain-weights` keeps every ‖W‖ at its initial value.
    public let weightConstraint: WeightNormConstraint?
    private var rng: SeededGenerator
    /// Per weighted layer: B (FA, adaFA), M (frSF) or the scale s in a 1-element tensor (sign-FA).
    private var state: [ObjectIdentifier: Tensor] = [:]

    public init(feedback: Feedback = .random(.xavierUniform), constrainWeights: Bool = false, seed: UInt64 = 1) {
        self.feedback = feedback
        self.weightConstraint = constrainWeights ? WeightNormConstraint() : nil
        self.rng = SeededGenerator(seed: seed ^ 0xFEED_BAC4)
    }

    public var name: String {
        switch feedback {
        case .random: "fa"
        case .sign: "signfa"
        case .fixedMagnitudeSign: "frsf"
        case .transposeAtInit: "adafa"
        }
    }

    /// Draws the rule's state for every weighted layer of `model` not seen yet, in forward order.
    public func prepare(_ model: Model) {
        weightConstraint?.prepare(model)
        for layer in model.weightedLayers where state[ObjectIdentifier(layer)] == nil {
            let w = layer.weight.value
            switch feedback {
            case let .random(initializer), let .fixedMagnitudeSign(initializer):
                state[ObjectIdentifier(layer)] = initializer.make(w.shape, using: &rng)
            case .sign:
                state[ObjectIdentifier(layer)] = Tensor(shape: [1], scalars: [Float((w.squaredNorm / Double(w.count)).squareRoot())])
            case .transposeAtInit:
                state[ObjectIdentifier(layer)] = w
            }
        }
    }

    /// The matrix that carries `layer`'s error to its input now.
    public func feedbackMatrix(for layer: WeightedLayer) -> Tensor {
        guard let stored = state[ObjectIdentifier(layer)] else {
            preconditionFailure("FeedbackAlignment: \(layer.summary) was not prepared; call prepare(model) first")
        }
        switch feedback {
        case .random, .transposeAtInit:
            return stored
        case .sign:
            let s = stored[0]
            return layer.weight.value.mapped { $0 > 0 ? s : ($0 < 0 ? -s : 0) }
        case .fixedMagnitudeSign:
            return Tensor.zip(stored, layer.weight.value) { m, w in w > 0 ? abs(m) : (w < 0 ? -abs(m) : 0) }
        }
    }

    /// Per weighted layer: the angle between W and its current feedback B, and ‖B‖/‖W‖.
    public func feedbackView(_ model: Model) -> FeedbackView? {
        prepare(model)
        return FeedbackView(feedback: { self.feedbackMatrix(for: $0) }, alignment: { self.weightFeedbackAlignment(model) })
    }

    public func weightFeedbackAlignment(_ model: Model) -> [(layer: String, degrees: Double?, normRatio: Double)] {
        prepare(model)
        return model.blocks.flatMap { block in
            block.layers.flatMap(\.leaves).compactMap { $0 as? WeightedLayer }.map { layer in
                let w = layer.weight.value, b = feedbackMatrix(for: layer)
                return ("\(block.name).\(layer.summary)", UpdateAlignment.angle(w, b),
                        (b.squaredNorm / max(w.squaredNorm, .leastNonzeroMagnitude)).squareRoot())
            }
        }
    }

    /// Replaces a fixed feedback matrix (FA, adaFA), e.g. to compare with backprop by setting B = W.
    public func setFeedback(_ matrix: Tensor, for layer: WeightedLayer) {
        precondition(feedback.isFixed, "only fixed feedback (fa, adafa) can be set")
        precondition(matrix.shape == layer.weight.value.shape, "feedback \(matrix.shape) must match weight \(layer.weight.value.shape)")
        state[ObjectIdentifier(layer)] = matrix
    }

    public func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics {
        prepare(model)
        let output = OutputError(model: model, batch: batch)
        model.backward(output.gradient) { layer, gradient, propagate in
            guard let weighted = layer as? WeightedLayer else { return layer.backward(gradient, propagate: propagate) }
            return weighted.backward(gradient, feedback: propagate ? self.feedbackMatrix(for: weighted) : nil, propagate: propagate)
        }
        optimizer.update(model.parameters)
        weightConstraint?.apply(model)
        return output.statistics(batch)
    }
}

extension FeedbackAlignment {
    /// The same products as backprop, through B instead of W (sign-FA's and frSF's elementwise
    /// construction of B from W is not counted).
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        MACBreakdown(forward: model.forwardMACs, signal: model.errorPropagationMACs, update: model.weightGradientMACs)
    }

    /// The stored feedback matrices (sign-FA stores one scale per layer).
    public func stateBytes(_ model: Model) -> Int {
        prepare(model)
        return model.weightedLayers.reduce(0) { $0 + (state[ObjectIdentifier($1)]?.count ?? 0) * MemoryLayout<Float>.stride }
    }
}

extension FeedbackAlignment {
    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] { [] }

    /// `<block>.<layer>.feedback`: B (fa, adafa), M (frsf) or the scale s (signfa); the weight-norm targets.
    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] {
        prepare(model)
        var entries: [String: Safetensors.Entry] = [:]
        for (name, layer) in model.namedWeightedLayers {
            if let stored = state[ObjectIdentifier(layer)] { entries["\(name).feedback"] = .init(stored) }
        }
        return entries.merging(weightConstraint?.checkpointState(model) ?? [:]) { a, _ in a }
    }

    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {
        prepare(model)
        for (name, layer) in model.namedWeightedLayers {
            let current = state[ObjectIdentifier(layer)]!
            state[ObjectIdentifier(layer)] = try file.tensor("\(prefix)\(name).feedback", shape: current.shape, path: path)
        }
        try weightConstraint?.restoreState(file, prefix: prefix, model: model, path: path)
    }
}

extension FeedbackAlignment {
    /// The four variants by the names users know them by.
    public enum Variant: String, Sendable, CaseIterable {
        case fa, signfa, frsf, adafa
    }

    public struct Settings: Sendable {
        public var feedbackInitializer = Initializer.xavierUniform
        public var constrainWeights = false
    }

    public static func descriptor(_ variant: Variant) -> RuleDescriptor {
        let summaries: [Variant: String] = [
            .fa: "feedback alignment: a fixed random B carries each layer's error instead of Wᵀ",
            .signfa: "sign-concordant feedback: B = s·sign(W)", .frsf: "fixed random magnitude, sign of W: B = |M| ∘ sign(W)",
            .adafa: "B = W at the first step, then fixed",
        ]
        var options: [RuleOption<Settings>] = [.constrainWeights(\.constrainWeights)]
        if variant == .fa || variant == .frsf { options.insert(.feedbackInit(\.feedbackInitializer), at: 0) }
        return RuleDescriptor(name: variant.rawValue, summary: summaries[variant]!, defaults: Settings(), options: options,
                              diagnoseInComparisons: true) { settings, seed in
            let feedback: Feedback = switch variant {
            case .fa: .random(settings.feedbackInitializer)
            case .signfa: .sign
            case .frsf: .fixedMagnitudeSign(settings.feedbackInitializer)
            case .adafa: .transposeAtInit
            }
            return FeedbackAlignment(feedback: feedback, constrainWeights: settings.constrainWeights, seed: seed)
        }
    }
}
