/// SLL — stochastic layer-wise learning (Yin & Corradi, arXiv 2505.05181): every hidden block (or
/// unit of blocks, SLL+) trains on a detached input with a local objective on "codes" from a fixed
/// random projection of its flattened activation h (see `LocalTraining`):
///
/// - R_l ∈ R^{d×D_l}, entries N(0, 1/D_l), drawn once from the seed; during training it is multiplied
///   by a fresh Bernoulli(1−p)/(1−p) mask every step (multiplicative dropout on the projection).
/// - posterior q_l = softmax(R̃_l h_l); prior π_l = the parent's q_{l−1} of the same step, detached
///   (computed before the parent's update, like the input the block receives); the first block's
///   prior is the same construction on the input x with its own fixed R_0.
/// - L_l = CE(softmax of the first C codes, y) + λ·D_B(q_l, π_l) (`Bhattacharyya`).
///
/// Choices the paper leaves open, each an option, and the defaults here: Gaussian R with standard
/// deviation 1/√D (norm-preserving in expectation; Rademacher and Achlioptas-sparse entries of the
/// same variance, and a scale factor, are the alternatives), d = C, p = 0.1, λ = 1, mask resampled
/// every step, prior from the parent's own projection and, for the first block, from a fixed
/// projection of the input (or uniform), and the projection reading a block after its pooling (the
/// best of the measured variants on CNNs; the same tensor where a block has no pooling). The
/// classifier trains with cross-entropy on its detached input; prediction is the plain forward pass.
public final class SLL: UnitLocalRule {
    /// The distribution of R's entries; all three are sub-Gaussian with variance scale²/D.
    public enum ProjectionDistribution: String, Sendable, CaseIterable {
        case gaussian
        /// ±scale/√D with equal probability.
        case rademacher
        /// Achlioptas: √3·scale/√D times +1 or −1 (probability 1/6 each), else 0.
        case sparse
    }

    /// The first block's prior π_1.
    public enum InputPrior: String, Sendable, CaseIterable {
        /// softmax(R̃_0 x) with its own fixed projection of the input.
        case projection
        /// The uniform distribution over the codes (no input-dependent prior).
        case uniform
    }

    /// The standard deviation of R's entries, before `scale`.
    public enum ScaleMode: String, Sendable, CaseIterable {
        /// 1/√D: ‖Rh‖ ≈ ‖h‖·√(d/D), code magnitudes independent of the layer width.
        case unit
        /// 1/√d (Johnson–Lindenstrauss): ‖Rh‖ ≈ ‖h‖, codes √(D/d) times larger.
        case jl
    }

    /// Where a unit's projection reads its last block (the same tensor when the block has no pooling).
    public enum Tap: String, Sendable, CaseIterable {
        /// The activation's output, before the block's pooling.
        case beforePooling = "before-pooling"
        /// The block's output, after its pooling (4× fewer values after a 2×2 pool).
        case afterPooling = "after-pooling"
    }

    public struct Configuration: Sendable, Equatable {
        /// Number of codes d (0: the number of classes).
        public var codes = 0
        public var dropout: Float = 0.1
        public var lambda: Float = 1
        /// Consecutive blocks trained as one unit (SLL+ when > 1).
        public var unitSize = 1
        public var releaseActivations = true
        public var distribution = ProjectionDistribution.gaussian
        /// Multiplies R's standard deviation (the codes' scale, an inverse softmax temperature).
        public var scale: Float = 1
        public var scaleMode = ScaleMode.unit
        public var inputPrior = InputPrior.projection
        public var tap = Tap.afterPooling

        public init(codes: Int = 0, dropout: Float = 0.1, lambda: Float = 1, unitSize: Int = 1,
                    distribution: ProjectionDistribution = .gaussian, scale: Float = 1, inputPrior: InputPrior = .projection,
                    scaleMode: ScaleMode = .unit, tap: Tap = .afterPooling) {
            self.codes = codes
            self.dropout = dropout
            self.lambda = lambda
            self.unitSize = unitSize
            self.distribution = distribution
            self.scale = scale
            self.inputPrior = inputPrior
            self.scaleMode = scaleMode
            self.tap = tap
        }
    }

    public let configuration: Configuration
    private let seed: UInt64
    /// Draws the dropout masks, one per projection per step, in block order.
    private var maskGenerator: SeededGenerator
    /// R_0 (input; absent with a uniform input prior), then R_l for each unit's last block, keyed by
    /// block index (−1 for the input).
    public private(set) var projections: [Int: Tensor] = [:]

    public init(_ configuration: Configuration = Configuration(), seed: UInt64 = 1) {
        precondition(configuration.dropout >= 0 && configuration.dropout < 1, "SLL dropout must be in [0, 1)")
        precondition(configuration.scale > 0 && configuration.scale.isFinite, "SLL projection scale must be positive")
        self.configuration = configuration
        self.seed = seed
        maskGenerator = SeededGenerator(seed: seed ^ 0x5_11E5)
    }

    public var name: String { configuration.unitSize > 1 ? "sll+" : "sll" }

    public var tapsBlockOutput: Bool { configuration.tap == .afterPooling }

    public func unsupportedReason(for model: Model) -> String? {
        if model.blocks.count < 2 { return "the model has no hidden block to train with a local loss" }
        if codeCount(model) < model.classes {
            return "--sll-codes \(configuration.codes) is fewer than the \(model.classes) classes; each projection needs at least one code per class"
        }
        return nil
    }

    func codeCount(_ model: Model) -> Int { configuration.codes > 0 ? configuration.codes : model.classes }

    /// Draws the fixed projections (once).
    public func prepare(_ model: Model) {
        guard projections.isEmpty else { return }
        let d = codeCount(model)
        precondition(d >= model.classes, "SLL needs at least as many codes as classes")
        let shapes = configuration.tap == .afterPooling ? model.blockOutputShapes.dropLast().map { SignalTap.lossShape($0, of: model) } : SignalTap.lossShapes(of: model)
        let input = configuration.inputPrior == .projection ? [(-1, model.inputShape.reduce(1, *))] : []
        let sizes = input + LocalTraining.units(of: model, size: configuration.unitSize).map { ($0.upperBound, shapes[$0.upperBound].reduce(1, *)) }
        for (index, size) in sizes {
            // Each projection from its own stream: R_l does not depend on how many blocks follow.
            var rng = SeededGenerator(seed: seed ^ 0x9_0000 &+ UInt64(index + 1))
            let sd = configuration.scale / Float(configuration.scaleMode == .jl ? d : size).squareRoot()
            projections[index] = Tensor(shape: [d, size]).mapped { _ in sd * Self.entry(configuration.distribution, using: &rng) }
        }
    }

    /// One entry of unit variance from `distribution`.
    static func entry(_ distribution: ProjectionDistribution, using rng: inout SeededGenerator) -> Float {
        switch distribution {
        case .gaussian: return rng.nextNormal()
        case .rademacher: return rng.nextUniform() < 0.5 ? -1 : 1
        case .sparse:
            let u = rng.nextUniform()
            return u < 1.0 / 6 ? -Float(3).squareRoot() : u < 2.0 / 6 ? Float(3).squareRoot() : 0
        }
    }

    /// R ⊙ Bernoulli(1−p)/(1−p) with a fresh mask, or R itself when not training or p = 0.
    func projection(_ index: Int, training: Bool) -> Tensor {
        let r = projections[index]!
        let p = configuration.dropout
        guard training, p > 0 else { return r }
        let keep = 1 / (1 - p)
        return r.mapped { maskGenerator.nextUniform() < p ? 0 : $0 * keep }
    }

    /// Codes [N, d] of a flattened activation through projection `index`.
    func codes(_ index: Int, _ activation: Tensor, projection r: Tensor) -> Tensor {
        let n = activation.shape[0]
        return BLAS.matmul(activation.reshaped([n, activation.count / n]), r, transposeB: true)
    }

    /// The block's local loss from its codes: CE on the first C codes plus λ·D_B against the prior;
    /// returns the loss and ∂loss/∂codes.
    func localLoss(codes: Tensor, prior: Tensor, labels: [Int32], classes: Int) -> LossResult {
        let (n, d) = (codes.shape[0], codes.shape[1])
        let classLogits = d == classes ? codes : Tensor(uninitializedShape: [n, classes]) { out in
            codes.withUnsafeBufferPointer { c in for r in 0..<n { for k in 0..<classes { out[r * classes + k] = c[r * d + k] } } }
        }
        let ce = SoftmaxCrossEntropy()(classLogits, labels: labels)
        let bhattacharyya = Bhattacharyya.distance(logits: codes, priorLogits: prior)
        let lambda = configuration.lambda
        var gradient = bhattacharyya.gradient.mapped { lambda * $0 }
        gradient.withUnsafeMutableBufferPointer { g in
            ce.gradient.withUnsafeBufferPointer { c in for r in 0..<n { for k in 0..<classes { g[r * d + k] += c[r * classes + k] } } }
        }
        return LossResult(loss: ce.loss + lambda * bhattacharyya.loss, gradient: gradient, correct: ce.correct)
    }

    public var unitSize: Int { configuration.unitSize }
    public var releasesActivations: Bool { configuration.releaseActivations }

    /// Where the step state keeps the parent's codes (the other keys are block indices, holding
    /// that unit's masked projection).
    static let priorKey = Int.min

    /// Draws this step's masks up front, in the order of the blocks (the input's first), and the
    /// first unit's prior: the input's codes, or zero logits (uniform).
    public func beginStep(_ batch: Batch, model: Model) -> LocalStepState {
        var state = LocalStepState()
        state.tensors[Self.priorKey] = configuration.inputPrior == .uniform
            ? Tensor(shape: [batch.images.shape[0], codeCount(model)])
            : codes(-1, batch.images, projection: projection(-1, training: true))
        for unit in units(of: model) { state.tensors[unit.upperBound] = projection(unit.upperBound, training: true) }
        return state
    }

    public func unitLoss(block: Int, activation: Tensor, labels: [Int32], state: inout LocalStepState, model: Model) -> (LossResult, [Parameter]) {
        let r = state.tensors.removeValue(forKey: block)!
        let z = codes(block, activation, projection: r)
        let loss = localLoss(codes: z, prior: state.tensors[Self.priorKey]!, labels: labels, classes: model.classes)
        state.tensors[Self.priorKey] = z
        let gradient = BLAS.matmul(loss.gradient, r).reshaped(activation.shape)
        return (LossResult(loss: loss.loss, gradient: gradient, correct: loss.correct), [])
    }

    /// Signal per unit: the projection and its transpose (2·d·D) plus the input's projection (d·D_0)
    /// when the first prior comes from one.
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        prepare(model)
        let d = codeCount(model)
        let signal = projections.reduce(0) { $0 + ($1.key < 0 ? 1 : 2) * d * $1.value.shape[1] }
            + LocalTraining.withinUnitPropagationMACs(model, unitSize: configuration.unitSize)
        return MACBreakdown(forward: model.forwardMACs, signal: signal, update: model.weightGradientMACs)
    }

    /// The fixed projections (the per-step masked copy is transient).
    public func stateBytes(_ model: Model) -> Int {
        prepare(model)
        return projections.values.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
    }
}

extension SLL {
    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] { [] }

    /// `input.projection` and `<block>.projection` (R_0 and each unit's R), and `mask_rng`.
    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] {
        prepare(model)
        var entries: [String: Safetensors.Entry] = ["mask_rng": .init(maskGenerator.stateWords)]
        for (index, r) in projections { entries["\(index < 0 ? "input" : model.blocks[index].name).projection"] = .init(r) }
        return entries
    }

    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {
        prepare(model)
        for (index, r) in projections {
            projections[index] = try file.tensor("\(prefix)\(index < 0 ? "input" : model.blocks[index].name).projection", shape: r.shape, path: path)
        }
        maskGenerator.stateWords = try file.generatorState("\(prefix)mask_rng", path: path)
    }
}

extension SLL {
    public static var descriptor: RuleDescriptor {
        RuleDescriptor(name: "sll", summary: "fixed random projections with multiplicative dropout; local cross-entropy + Bhattacharyya alignment to the parent",
                       defaults: Configuration(), options: [
            .integer("sll-codes", \.codes, help: "Number of codes of each random projection (0: the number of classes).", range: 0...1_000_000),
            .number("sll-dropout", \.dropout, help: "Dropout rate p of the multiplicative mask on the projections.", requirement: "in [0, 1)") { $0 >= 0 && $0 < 1 },
            .number("sll-lambda", \.lambda, help: "Weight λ of the Bhattacharyya term.", requirement: "≥ 0") { $0 >= 0 },
            .choice("sll-projection", \.distribution, help: "Distribution of the projection entries, all of variance scale²/D (sparse: Achlioptas)."),
            .number("sll-scale", \.scale, help: "Factor on the projection's standard deviation 1/√D (scales the codes, an inverse softmax temperature).",
                    requirement: "a positive number") { $0 > 0 },
            .choice("sll-scale-mode", \.scaleMode, help: "Standard deviation of R's entries before --sll-scale: unit (1/√D, codes independent of the layer width) or jl (1/√d, Johnson–Lindenstrauss: codes √(D/d) larger)."),
            .choice("sll-tap", \.tap, help: "Where each unit's projection reads its last block: before-pooling (the activation) or after-pooling (the block's output)."),
            .choice("sll-input-prior", \.inputPrior, help: "The first block's prior: projection (softmax of a fixed random projection of the input) or uniform."),
            .localUnit(\.unitSize),
        ], diagnoseInComparisons: true,
           // Runs saved before after-pooling became the default (2026-12-02) read before pooling.
           legacyOptionValues: ["sll-tap": "before-pooling"]) { configuration, seed in SLL(configuration, seed: seed) }
    }
}
