/// PEPITA — present the error to perturb the input to modulate activity (Dellaferrera & Kreiman,
/// ICML 2022): no backward pass; two forward passes per batch, the second on an input shifted by
/// the first pass's output error through a fixed random matrix F.
///
/// - first pass: h_ℓ = block_ℓ(h_{ℓ−1}), h_0 = x; output error e = softmax(h_L) − onehot(y) (Alg. 1);
/// - second pass on x′ = x + F·e (F: [input, classes], fixed): h′_ℓ;
/// - updates (Alg. 1, averaged over the batch): ΔW_ℓ = (h_ℓ − h′_ℓ)·(h′_{ℓ−1})ᵀ for hidden layers,
///   ΔW_L = e′·(h′_{L−1})ᵀ with e′ = softmax(h′_L) − onehot(y), applied as W ← W − η·ΔW (handed to
///   the optimizer as gradients). The difference of activities stands in for the pre-activation
///   error: no activation derivative, no weight transport, no backward pass.
///
/// As the reference code (`GiorgiaD/PEPITA`, functions.py): F entries U(−a, a)·0.05 with
/// a = √(6/input size); biases, absent there, learn from the same δ. The rule trains fully
/// connected blocks [Flatten] Linear activation with a Linear classifier; dropout would need the
/// same masks in both passes and is refused, like BatchNorm and convolutions.
public final class PEPITA: LearningRule {
    public struct Settings: Sendable {
        /// The factor on F's He-uniform bound (the paper's 0.05).
        public var feedbackScale: Float = 0.05
        public init(feedbackScale: Float = 0.05) { self.feedbackScale = feedbackScale }
    }

    public let settings: Settings
    private var rng: SeededGenerator
    /// Fᵀ, [classes, input size], so that the input shift of a batch is e·Fᵀ.
    public private(set) var feedback: Tensor?

    public init(_ settings: Settings = Settings(), seed: UInt64 = 1) {
        self.settings = settings
        rng = SeededGenerator(seed: seed ^ 0x9E91_7A00)
    }

    public var name: String { "pepita" }

    public static var descriptor: RuleDescriptor {
        RuleDescriptor(name: "pepita", summary: "two forward passes, the second on the input shifted by F·e; ΔW = (h − h′)·h′ᵀ, no backward pass",
                       defaults: Settings(), options: [
            .number("pepita-scale", \.feedbackScale, help: "Factor on the bound √(6/input size) of F's uniform entries (the paper's 0.05).",
                    requirement: "a positive number") { $0 > 0 },
        ], recipe: RuleRecipe(optimizer: .sgd, learningRate: 0.1, momentum: 0.9)) { settings, seed in PEPITA(settings, seed: seed) }
    }

    public func unsupportedReason(for model: Model) -> String? {
        if case let .failure(.invalidSpec(_, reason)) = model.linearChain { return "PEPITA: \(reason)" }
        return nil
    }

    public func prepare(_ model: Model) {
        guard feedback == nil else { return }
        let inputSize = model.inputShape.reduce(1, *)
        let bound = (6 / Float(inputSize)).squareRoot() * settings.feedbackScale
        feedback = Tensor.uniform([model.classes, inputSize], bound: bound, using: &rng)
    }

    /// Each block's output on `input`, in training mode (every Linear caches its input for the update).
    static func activities(_ model: Model, _ input: Tensor) -> [Tensor] {
        var x = input
        return model.blocks.map { block in
            x = block.forward(x, mode: .training)
            return x
        }
    }

    public func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics {
        guard case let .success(linears) = model.linearChain else { preconditionFailure(unsupportedReason(for: model)!) }
        prepare(model)
        let n = Float(batch.count), crossEntropy = SoftmaxCrossEntropy()
        let first = Self.activities(model, batch.images)
        let loss = crossEntropy(first.last!, labels: batch.labels)
        // e = softmax − onehot = N·∂L/∂logits; the input shift F·e for every sample at once.
        let shift = BLAS.matmul(loss.gradient.mapped { $0 * n }, feedback!)
        let modulated = Tensor.zip(batch.images, shift.reshaped(batch.images.shape), +)
        let second = Self.activities(model, modulated)
        model.memoryMeter?.sample(model, inFlight: first + second + [shift, modulated])
        for (index, linear) in linears.enumerated() {
            let delta: Tensor
            if index == linears.count - 1 {
                delta = crossEntropy(second.last!, labels: batch.labels).gradient  // e′/N
            } else {
                delta = Tensor.zip(first[index], second[index]) { ($0 - $1) / n }
            }
            _ = linear.backward(delta.reshaped([batch.count, linear.outputSize]), propagate: false)
        }
        optimizer.update(model.parameters)
        return StepStatistics(loss: loss.loss, correct: loss.correct!, count: batch.count)
    }

    /// Signal: the second forward pass and the input shift F·e; update: each layer's outer product.
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        MACBreakdown(forward: model.forwardMACs, signal: model.forwardMACs + model.classes * model.inputShape.reduce(1, *),
                     update: model.weightGradientMACs)
    }

    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] {
        prepare(model)
        return ["pepita.feedback": .init(feedback!)]
    }

    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {
        prepare(model)
        feedback = try file.tensor("\(prefix)pepita.feedback", shape: feedback!.shape, path: path)
    }
}
