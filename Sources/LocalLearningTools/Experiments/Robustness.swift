import LocalLearning

/// Accuracy under white-box attacks, whatever rule trained the network: the input gradient is the
/// exact one of the evaluated network (backprop in `.frozen` mode — running BatchNorm statistics, no
/// dropout), computed in pixel space through the run's standardisation.
///
/// - FGSM (Goodfellow et al. 2015): x′ = clip(x + ε·sign(∇ₓL), 0, 1).
/// - PGD (Madry et al. 2018): from a uniform random start in the ε-ball (or x), `steps` steps
///   x ← Π(x + α·sign(∇ₓL)), Π projecting onto the ε-ball around the clean x intersected with [0, 1];
///   α defaults to 2.5·ε/steps.
/// - Gaussian noise (control): x′ = clip(x + N(0, ε²), 0, 1), no gradient.
public enum Robustness {
    public enum Attack: String, Sendable, CaseIterable, Codable {
        case fgsm, pgd, noise
    }

    public struct Settings: Sendable {
        public var steps = 10
        /// PGD's step α; nil: 2.5·ε/steps.
        public var stepSize: Float?
        public var randomStart = true
        public var seed: UInt64 = 1
        public init() {}
    }

    /// `pixels` ([N, C, H, W] in [0, 1]) as the network sees them.
    static func prepared(_ pixels: Tensor, _ standardization: Standardization?) -> Tensor {
        guard let standardization else { return pixels }
        let batch = Dataset(name: "attack", images: pixels, labels: [Int32](repeating: 0, count: pixels.shape[0]), classes: 1)
        return standardization.apply(to: batch).images
    }

    /// The cross-entropy of the evaluated network on `pixels` and its exact gradient with respect to them.
    public static func lossAndInputGradient(_ model: Model, pixels: Tensor, labels: [Int32],
                                            standardization: Standardization?) -> LossResult {
        let logits = model.forward(prepared(pixels, standardization), mode: .frozen)
        var result = SoftmaxCrossEntropy()(logits, labels: labels)
        var gradient = result.gradient
        for block in model.blocks.reversed() { gradient = block.backward(gradient, propagate: true)! }
        if let standardization {
            // x_std = (x − μ_c)/σ_c, so ∂L/∂x = ∂L/∂x_std / σ_c.
            let channels = pixels.shape[1], plane = pixels.count / (pixels.shape[0] * channels)
            gradient.withUnsafeMutableBufferPointer { g in
                for index in 0..<(pixels.shape[0] * channels) {
                    let inverse = 1 / standardization.standardDeviation[index % channels]
                    for i in 0..<plane { g[index * plane + i] *= inverse }
                }
            }
        }
        for layer in model.layers { layer.releaseHeld() }
        result.gradient = gradient
        return result
    }

    /// `pixels` attacked with budget `epsilon` (L∞), inside [0, 1].
    public static func attack(_ attack: Attack, model: Model, pixels: Tensor, labels: [Int32], epsilon: Float,
                              settings: Settings = Settings(), standardization: Standardization?,
                              rng: inout SeededGenerator) -> Tensor {
        func clipped(_ x: Tensor) -> Tensor { x.mapped { min(max($0, 0), 1) } }
        func projected(_ x: Tensor) -> Tensor {
            Tensor.zip(x, pixels) { value, clean in min(max(value, max(clean - epsilon, 0)), min(clean + epsilon, 1)) }
        }
        switch attack {
        case .noise:
            return clipped(pixels.mapped { $0 + epsilon * rng.nextNormal() })
        case .fgsm:
            let gradient = lossAndInputGradient(model, pixels: pixels, labels: labels, standardization: standardization).gradient
            return projected(Tensor.zip(pixels, gradient) { $0 + epsilon * Self.sign($1) })
        case .pgd:
            let steps = max(settings.steps, 1), alpha = settings.stepSize ?? 2.5 * epsilon / Float(steps)
            var x = settings.randomStart ? projected(pixels.mapped { $0 + rng.nextUniform(-epsilon, epsilon) }) : pixels
            for _ in 0..<steps {
                let gradient = lossAndInputGradient(model, pixels: x, labels: labels, standardization: standardization).gradient
                x = projected(Tensor.zip(x, gradient) { $0 + alpha * Self.sign($1) })
            }
            return x
        }
    }

    static func sign(_ v: Float) -> Float { v > 0 ? 1 : (v < 0 ? -1 : 0) }

    /// Accuracy and mean loss of `model` on `dataset` (pixels in [0, 1]) with every batch attacked.
    public static func evaluate(_ model: Model, on dataset: Dataset, attack: Attack?, epsilon: Float, settings: Settings = Settings(),
                                standardization: Standardization?, batchSize: Int = 256) -> Evaluation.Result {
        var rng = SeededGenerator(seed: settings.seed ^ 0xA77AC)
        return Evaluation.evaluate(model, on: dataset, batchSize: batchSize) { batch in
            let attacked = attack.map { Self.attack($0, model: model, pixels: batch.images, labels: batch.labels, epsilon: epsilon,
                                                    settings: settings, standardization: standardization, rng: &rng) } ?? batch.images
            return prepared(attacked, standardization)
        }
    }
}
