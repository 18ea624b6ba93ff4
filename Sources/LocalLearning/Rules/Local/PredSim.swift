/// PredSim — prediction and similarity-matching local losses (Nøkland & Eidnes, ICML 2019), as the
/// AugLocal reference code builds it for its baselines: every hidden block trains greedily on its
/// detached input with L = (1 − β)·L_pred + β·L_sim, β = 0.99 (`LocalTraining` runs the step):
///
/// - L_pred: cross-entropy of a linear classifier on the block's activation, average-pooled (halving
///   the spatial size) until at most 512 features remain;
/// - L_sim (§3.2): the activation goes through a learned 3×3 convolution (conv blocks; fully connected
///   blocks use the activation itself), each channel is reduced to its spatial standard deviation
///   (unbiased), each sample's vector is centred and normalised to u_n, and the cosine-similarity
///   matrix S = U·Uᵀ is pulled toward the labels' one, T_nm = [y_n = y_m]: L_sim = mean over n, m of
///   (S − T)².
///
/// The classifier block trains with cross-entropy on its detached input; prediction is the plain
/// forward pass.
public final class PredSim: UnitLocalRule {
    public struct Settings: Sendable {
        /// β, the weight of the similarity loss.
        public var beta: Float = 0.99
        public init(beta: Float = 0.99) { self.beta = beta }
    }

    public let settings: Settings
    private let seed: UInt64
    /// Per hidden block: the prediction head and the similarity convolution (nil for vector activations).
    public private(set) var predictors: [AuxiliaryNetwork] = []
    public private(set) var similarity: [Conv2D?] = []

    public init(_ settings: Settings = Settings(), seed: UInt64 = 1) {
        self.settings = settings
        self.seed = seed
    }

    public var name: String { "predsim" }

    public static var descriptor: RuleDescriptor {
        RuleDescriptor(name: "predsim", summary: "prediction + similarity-matching local losses on every block (Nøkland & Eidnes)",
                       defaults: Settings(), options: [
            .number("predsim-beta", \.beta, help: "β: the similarity loss's weight, the prediction loss's is 1 − β.",
                    requirement: "in [0, 1]") { $0 >= 0 && $0 <= 1 },
        ], diagnoseInComparisons: true) { settings, seed in PredSim(settings, seed: seed) }
    }

    public func unsupportedReason(for model: Model) -> String? {
        model.blocks.count < 2 ? "the model has no hidden block to train with a local loss" : nil
    }

    public func prepare(_ model: Model) {
        guard predictors.isEmpty else { return }
        var rng = SeededGenerator(seed: seed ^ 0x9E_D51A)
        for shape in SignalTap.lossShapes(of: model) {
            guard shape.count == 3 else {
                predictors.append(AuxiliaryNetwork(layers: [Flatten(), Linear(shape.reduce(1, *), model.classes, rng: &rng)]))
                similarity.append(nil)
                continue
            }
            var side = shape[1]
            while side > 1 && shape[0] * side * side > 512 { side = (side + 1) / 2 }
            predictors.append(AuxiliaryNetwork(layers: [AdaptiveAvgPool2D(side), Flatten(), Linear(shape[0] * side * side, model.classes, rng: &rng)]))
            similarity.append(Conv2D(shape[0], shape[0], kernelSize: 3, padding: 1, bias: false, rng: &rng))
        }
    }

    /// L_sim of features [N, D] against the labels' similarity, and ∂L_sim/∂features.
    static func similarityLoss(_ features: Tensor, labels: [Int32]) -> (loss: Float, gradient: Tensor) {
        let n = features.shape[0], d = features.count / max(n, 1)
        var centred = features.reshaped([n, d]).scalars, lengths = [Float](repeating: 0, count: n)
        for row in 0..<n {
            let mean = centred[(row * d)..<(row * d + d)].reduce(0, +) / Float(d)
            for j in 0..<d { centred[row * d + j] -= mean }
            lengths[row] = centred[(row * d)..<(row * d + d)].reduce(0) { $0 + $1 * $1 }.squareRoot()
        }
        let units = Tensor(shape: [n, d], scalars: (0..<(n * d)).map { centred[$0] / (lengths[$0 / d] + 1e-8) })
        let s = BLAS.matmul(units, units, transposeB: true)
        var loss: Float = 0
        // ∂L/∂S = 2(S − T)/N², symmetric, so ∂L/∂U = 2·(∂L/∂S)·U.
        let ds = Tensor(uninitializedShape: [n, n]) { out in
            for a in 0..<n {
                for b in 0..<n {
                    let difference = s.scalars[a * n + b] - (labels[a] == labels[b] ? 1 : 0)
                    loss += difference * difference / Float(n * n)
                    out[a * n + b] = 4 * difference / Float(n * n)
                }
            }
        }
        let du = BLAS.matmul(ds, units).scalars
        // Through u = c/(‖c‖ + ε) and the centring c = z − mean(z).
        var gradient = [Float](repeating: 0, count: n * d)
        for row in 0..<n {
            let r = lengths[row] + 1e-8, base = row * d
            var dot: Float = 0
            for j in 0..<d { dot += centred[base + j] * du[base + j] }
            let radial = lengths[row] > 0 ? dot / (lengths[row] * r * r) : 0
            var mean: Float = 0
            for j in 0..<d {
                gradient[base + j] = du[base + j] / r - centred[base + j] * radial
                mean += gradient[base + j]
            }
            mean /= Float(d)
            for j in 0..<d { gradient[base + j] -= mean }
        }
        return (loss, Tensor(shape: features.shape, scalars: gradient))
    }

    /// Each channel's spatial standard deviation (unbiased) of x [N, C, H, W], and its backward.
    static func channelDeviations(_ x: Tensor) -> (Tensor, (Tensor) -> Tensor) {
        let (n, c) = (x.shape[0], x.shape[1]), p = x.count / max(n * c, 1)
        var means = [Float](repeating: 0, count: n * c), deviations = means
        for i in 0..<(n * c) {
            let slice = x.scalars[(i * p)..<(i * p + p)]
            means[i] = slice.reduce(0, +) / Float(p)
            deviations[i] = (slice.reduce(0) { $0 + ($1 - means[i]) * ($1 - means[i]) } / Float(max(p - 1, 1)) + 1e-8).squareRoot()
        }
        let backward = { (g: Tensor) -> Tensor in
            Tensor(uninitializedShape: x.shape) { out in
                for i in 0..<(n * c) {
                    let scale = g.scalars[i] / (Float(max(p - 1, 1)) * deviations[i])
                    for j in 0..<p { out[i * p + j] = scale * (x.scalars[i * p + j] - means[i]) }
                }
            }
        }
        return (Tensor(shape: [n, c], scalars: deviations), backward)
    }

    public func unitLoss(block: Int, activation: Tensor, labels: [Int32], state: inout LocalStepState, model: Model) -> (LossResult, [Parameter]) {
        let beta = settings.beta
        let prediction = predictors[block].lossAndGradient(activation, labels: labels, model: model)
        var simLoss: Float, simGradient: Tensor
        if let conv = similarity[block] {
            let projected = conv.forward(activation, mode: .training)
            let (deviations, backward) = Self.channelDeviations(projected)
            let (loss, gradient) = Self.similarityLoss(deviations, labels: labels)
            simLoss = loss
            simGradient = conv.backward(backward(gradient), propagate: true)!
            model.memoryMeter?.sample(model, extraLayers: [conv], inFlight: [activation, projected, simGradient])
            conv.releaseHeld()
        } else {
            (simLoss, simGradient) = Self.similarityLoss(activation, labels: labels)
        }
        // The heads' own gradients carry their loss's weight, as the activation's do.
        for parameter in predictors[block].parameters { parameter.gradient = parameter.gradient.mapped { $0 * (1 - beta) } }
        for parameter in similarity[block]?.parameters ?? [] { parameter.gradient = parameter.gradient.mapped { $0 * beta } }
        let gradient = Tensor.zip(prediction.gradient, simGradient.reshaped(prediction.gradient.shape)) { (1 - beta) * $0 + beta * $1 }
        return (LossResult(loss: (1 - beta) * prediction.loss + beta * simLoss, gradient: gradient, correct: prediction.correct),
                predictors[block].parameters + (similarity[block]?.parameters ?? []))
    }

    /// Signal: each head's forward and backward (≈ 3× its forward MACs, its own update included).
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        prepare(model)
        let shapes = SignalTap.lossShapes(of: model)
        let heads = shapes.indices.reduce(0) { total, index in
            total + 3 * (predictors[index].forwardMACs(inputShape: shapes[index]) + (similarity[index]?.forwardMACs(inputShape: shapes[index]) ?? 0))
        }
        return MACBreakdown(forward: model.forwardMACs, signal: heads, update: model.weightGradientMACs)
    }

    /// `<block>.pred.<layer>.<parameter>` and `<block>.sim.<parameter>`.
    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] {
        prepare(model)
        return model.blocks.indices.dropLast().flatMap { index -> [(name: String, parameter: Parameter)] in
            let block = model.blocks[index].name
            let predictor = Model.named(predictors[index].layers, prefix: "\(block).pred").flatMap { name, layer in
                layer.parameters.map { ("\(name).\($0.name)", $0) }
            }
            return predictor + (similarity[index]?.parameters.map { ("\(block).sim.\($0.name)", $0) } ?? [])
        }
    }
}
