/// rec-LRA — recursive local representation alignment (Ororbia, Mali, Kifer & Giles, AAAI 2023),
/// the paper's Algorithm 1 for blocks [Flatten] W [BatchNorm] φ [pooling] (W a Linear, Conv2D or
/// Perturbative layer) and a linear classifier:
///
/// - forward: h = the input of φ, z = φ(h); the output error is e_L = softmax(logits) − onehot(y);
/// - going down, block ℓ gets a displacement d_ℓ from the block j that feeds it error (j = ℓ+1 with
///   `chain` wiring: e_j sent back through block j's weighted layer with E in place of W, then through
///   block ℓ's pooling; j = L with `outputSkip`: d_ℓ = E·e_L with a dense E), the target
///   y_ℓ = φ(h_ℓ − β d_ℓ) and the error e_ℓ = z_ℓ − y_ℓ — only forward-type operations, no φ′, so
///   non-differentiable activations (sign) train;
/// - updates, batch-averaged and handed to the optimizer as gradients (W ← W − η·ΔW for SGD): each
///   weighted layer's own weight-gradient operator applied to e (ΔW_ℓ = e_ℓ z_{ℓ−1}ᵀ, Δb_ℓ = e_ℓ for a
///   Linear), through its BatchNorm. Error synapses either by the paper's Eq. 6 (`paper`, dense links
///   only), or as LRA-E does, along the forward weights' update, ΔE_{ℓ+1→ℓ} = γ ΔW_{ℓ+1} (`trackForward`),
///   so E − W_{ℓ+1} stays nearly constant. Track-forward needs a forward weight to follow; synapses
///   from the output to a non-adjacent layer (output-skip wiring) use Eq. 6 either way.
///
/// The sign of Eq. 6: the paper writes ΔE = −γ·d_ℓ·e_jᵀ next to ΔW = e·zᵀ without saying how either
/// is applied. Both descend the layer's discrepancy ½‖e_ℓ‖² only if ΔW is subtracted and ΔE added
/// (for small β, ∂½‖e_ℓ‖²/∂E ∝ +(φ′ ⊙ d_ℓ) e_jᵀ); subtracting ΔE instead grows E along the errors
/// and diverged on MNIST within two epochs. So E moves by +ΔE: the optimizer is handed γ·d_ℓ·e_jᵀ.
/// That step is γ·E·e_j·e_jᵀ: it shrinks E along the errors it carries, and an adaptive optimizer
/// (which normalises γ away) keeps shrinking it at full rate — over tens of epochs the displacements
/// fade and a sign network's accuracy decays. γ = 0 keeps E fixed (the recipe for sign and deep
/// sigmoid networks with output-skip wiring in the README).
///
/// E is drawn from N(0, σ²): for a dense chain link it is an [n_j, n_ℓ] matrix (the layout of the
/// weight from ℓ to j). Once the errors are computed, every layer's update depends only on its own quantities,
/// so they could run concurrently.
public final class RecursiveLRA: LearningRule {
    public enum ErrorSynapseRule: String, Sendable, CaseIterable {
        case paper
        case trackForward = "track-forward"
    }

    public enum Wiring: String, Sendable, CaseIterable {
        case chain
        case outputSkip = "output-skip"
    }

    public struct Configuration: Sendable, Equatable {
        public var beta: Float = 0.1
        public var gamma: Float = 0.1
        public var errorSynapses: ErrorSynapseRule = .trackForward
        public var wiring: Wiring = .chain
        /// Standard deviation of the Gaussian E initialisation.
        public var errorInitScale: Float = 0.1

        public init(beta: Float = 0.1, gamma: Float = 0.1, errorSynapses: ErrorSynapseRule = .trackForward, wiring: Wiring = .chain,
                    errorInitScale: Float = 0.1) {
            self.beta = beta
            self.gamma = gamma
            self.errorSynapses = errorSynapses
            self.wiring = wiring
            self.errorInitScale = errorInitScale
        }
    }

    typealias Stage = BlockAnatomy
    typealias ResidualParts = BlockAnatomy.ResidualParts

    public let configuration: Configuration
    private var rng: SeededGenerator
    /// For each residual block: the error synapse carrying its output error to its inner layer (W₂'s shape).
    public private(set) var innerSynapses: [Int: Parameter] = [:]
    /// E_{j→ℓ} for each hidden block ℓ: the shape of block j's weight (chain), or [classes, size of z_ℓ] (output-skip).
    public private(set) var errorSynapses: [Parameter] = []

    public init(_ configuration: Configuration = Configuration(), seed: UInt64 = 1) {
        self.configuration = configuration
        rng = SeededGenerator(seed: seed ^ 0x1AA_E44)
    }

    public var name: String { "reclra" }

    public var pipelineRefusal: String? {
        "rec-LRA builds every layer's target top-down from the output error of the same batch, so no stage can "
            + "update before the last has finished; not supported"
    }

    public var dataParallelRefusal: String? { "rec-LRA changes its error synapses outside the optimizer, so ranks would drift apart" }

    /// The model's blocks as stages, or the reason rec-LRA cannot train them.
    static func stages(of model: Model) -> Result<[Stage], RuleError> {
        BlockAnatomy.of(model).mapError { RuleError("rec-LRA trains \($0.description)") }
    }

    public func unsupportedReason(for model: Model) -> String? {
        switch Self.stages(of: model) {
        case let .failure(error):
            return error.description
        case let .success(stages):
            if configuration.wiring == .chain && configuration.errorSynapses == .paper
                && zip(stages, sources(stages)).enumerated().contains(where: { index, pair in
                    pair.1 == index + 1 && !(stages[pair.1].weighted is Linear) }) {
                return "the paper's error-synapse rule needs dense chain links; use --error-synapses track-forward or --wiring output-skip"
            }
            return nil
        }
    }

    /// The source block j of each hidden block's error (indices into the stages): the next block with
    /// chain wiring, the output with output-skip wiring — and always the output for residual blocks and
    /// for the block before one (skip-error wiring: residual-block outputs learn from the output error).
    func sources(_ stages: [Stage]) -> [Int] {
        let last = stages.count - 1
        return (0..<last).map { ℓ in
            configuration.wiring == .chain && stages[ℓ].residual == nil && stages[ℓ + 1].residual == nil ? ℓ + 1 : last
        }
    }

    /// Every error synapse: the block-to-block ones, then the residual blocks' inner ones in block order.
    var allSynapses: [Parameter] { errorSynapses + innerSynapses.keys.sorted().map { innerSynapses[$0]! } }

    /// Draws the error synapses (once).
    public func prepare(_ model: Model) {
        guard errorSynapses.isEmpty, case let .success(stages) = Self.stages(of: model) else { return }
        let sd = configuration.errorInitScale
        let zShapes = SignalTap.hiddenShapes(of: model)
        for (layer, source) in sources(stages).enumerated() {
            let shape = source == layer + 1 ? stages[source].weighted.weight.value.shape : [model.classes, zShapes[layer].reduce(1, *)]
            errorSynapses.append(Parameter(name: "E_\(source + 1)_to_\(layer + 1)",
                                           value: Tensor(shape: shape).mapped { _ in sd * rng.nextNormal() }))
        }
        for (layer, stage) in stages.enumerated() {
            guard let parts = stage.residual else { continue }
            innerSynapses[layer] = Parameter(name: "E_\(layer + 1)_to_\(layer + 1)_inner",
                                             value: Tensor(shape: parts.outer.weight.value.shape).mapped { _ in sd * rng.nextNormal() })
        }
    }

    /// Everything one step computes before the updates.
    struct Signals {
        var preActivations: [Tensor] = []   // h of every stage (the logits for the classifier)
        var displacements: [Tensor] = []    // d_ℓ at the input of block j's weighted layer, per hidden stage (flattened for skips)
        var errors: [Tensor] = []           // e_ℓ at z_ℓ, per sample (not divided by N); the last is e_L
        var loss = LossResult(loss: 0, gradient: Tensor(shape: [0]))
        /// Per residual block: its inner pre-activation, displacement (at W₂'s input) and error.
        var innerPreActivations: [Int: Tensor] = [:]
        var innerDisplacements: [Int: Tensor] = [:]
        var innerErrors: [Int: Tensor] = [:]
    }

    /// Runs a residual block's body and shortcut by hand (training mode) to keep the inner
    /// pre-activation and activity; returns (h_inner, z_inner, the sum).
    static func forward(_ parts: ResidualParts, _ x: Tensor) -> (Tensor, Tensor, Tensor) {
        var a = x
        for layer in parts.body[..<parts.innerActivation] { a = layer.forward(a, mode: .training) }
        let h = a
        let z = parts.body[parts.innerActivation].forward(h, mode: .training)
        let u = parts.body[parts.outerWeight...].reduce(z) { $1.forward($0, mode: .training) }
        let skip = parts.unit.shortcut.reduce(x) { $1.forward($0, mode: .training) }
        return (h, z, Tensor.zip(u, skip, +))
    }

    /// Backward through `layers` (last to first); the first weighted one uses `feedback` and returns its
    /// input gradient only when `propagate`; returns the gradient where the walk stopped.
    static func backward(_ layers: ArraySlice<Layer>, _ gradient: Tensor, feedback: Tensor?, propagate: Bool) -> Tensor? {
        guard let weighted = layers.lastIndex(where: { $0 is WeightedLayer }) else { return LayerChain.backward(layers, gradient, propagate: true) }
        return LayerChain.backward(layers[weighted...], gradient, propagate: propagate, layerBackward: Self.through(feedback))
    }

    /// A layer's backward with `feedback` in place of a weighted layer's W.
    static func through(_ feedback: Tensor?) -> (Layer, Tensor, Bool) -> Tensor? {
        { layer, g, propagate in
            (layer as? WeightedLayer).map { $0.backward(g, feedback: feedback, propagate: propagate) } ?? layer.backward(g, propagate: propagate)
        }
    }

    /// Backward through `stage`'s layers from its pre-activation down to its weighted layer (which uses
    /// `feedback` and is asked for its input gradient only when `propagate`), then to the block input.
    static func backward(_ stage: Stage, _ gradient: Tensor, feedback: Tensor?, propagate: Bool) -> Tensor? {
        var g = gradient
        for index in stride(from: stage.preActivationIndex, through: 0, by: -1) {
            let layer = stage.block.layers[index]
            let next: Tensor?
            if index == stage.weightIndex {
                next = stage.weighted.backward(g, feedback: feedback, propagate: propagate)
            } else {
                next = layer.backward(g, propagate: true)
            }
            guard let next else { return nil }
            g = next
        }
        return g
    }

    func signals(_ stages: [Stage], batch: Batch, model: Model) -> Signals {
        var s = Signals()
        var input = batch.images
        var activities: [Tensor] = []
        for (number, stage) in stages.enumerated() {
            var x = input
            for (index, layer) in stage.block.layers.enumerated() {
                if index == 0, let parts = stage.residual {
                    let (h, _, sum) = Self.forward(parts, x)
                    s.innerPreActivations[number] = h
                    x = sum
                } else {
                    x = layer.forward(x, mode: .training)
                }
                if index == stage.preActivationIndex { s.preActivations.append(x) }
                if index == stage.activationIndex { activities.append(x) }
            }
            input = x
        }
        s.loss = SoftmaxCrossEntropy()(input, labels: batch.labels)
        model.memoryMeter?.sample(model, inFlight: s.preActivations + activities)
        let n = Float(batch.count)
        var errors = [Tensor?](repeating: nil, count: stages.count)
        errors[stages.count - 1] = s.loss.gradient.mapped { $0 * n }     // softmax − onehot, per sample
        s.displacements = [Tensor](repeating: Tensor(shape: [0]), count: stages.count - 1)
        let source = sources(stages)
        let beta = configuration.beta
        for layer in stride(from: stages.count - 2, through: 0, by: -1) {
            let e = errors[source[layer]]!, z = activities[layer], stage = stages[layer]
            var d: Tensor
            if source[layer] == layer + 1 {
                // Through the next block's weighted layer with E in place of W, then back through this block's pooling.
                d = Self.weightInputGradient(stages[layer + 1], e, feedback: errorSynapses[layer].value)
                s.displacements[layer] = d
                let next = stages[layer + 1]
                d = LayerChain.backward(next.block.layers[..<next.weightIndex], d, propagate: true)!
                d = Self.backward(stage.block, after: stage.activationIndex!, d)
            } else {
                d = BLAS.matmul(e.reshaped([e.shape[0], e.count / e.shape[0]]), errorSynapses[layer].value)
                s.displacements[layer] = d
                d = d.reshaped(z.shape)
            }
            let target = stage.function!.apply(Tensor.zip(s.preActivations[layer], d) { $0 - beta * $1 })
            errors[layer] = Tensor.zip(z, target) { $0 - $1 }
            if let parts = stage.residual {
                // Inside the block: the output error through W₂ with the inner synapse in its place.
                let dInner = Self.backward(parts.body[parts.outerWeight...], errors[layer]!, feedback: innerSynapses[layer]!.value, propagate: true)!
                let h = s.innerPreActivations[layer]!
                let zInner = parts.innerFunction.apply(h)
                let yInner = parts.innerFunction.apply(Tensor.zip(h, dInner) { $0 - beta * $1 })
                s.innerDisplacements[layer] = dInner
                s.innerErrors[layer] = Tensor.zip(zInner, yInner) { $0 - $1 }
            }
        }
        s.errors = errors.map { $0! }
        return s
    }

    /// The gradient at the input of `stage`'s weighted layer for `gradient` at its pre-activation.
    static func weightInputGradient(_ stage: Stage, _ gradient: Tensor, feedback: Tensor) -> Tensor {
        LayerChain.backward(stage.block.layers[stage.weightIndex...stage.preActivationIndex], gradient, propagate: true,
                            layerBackward: through(feedback))!
    }

    /// Backward through `block`'s layers after index `activation` (pooling), from the block output to z.
    static func backward(_ block: Block, after activation: Int, _ gradient: Tensor) -> Tensor {
        LayerChain.backward(block.layers[(activation + 1)...], gradient, propagate: true)!
    }

    public func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics {
        guard case let .success(stages) = Self.stages(of: model), unsupportedReason(for: model) == nil else {
            preconditionFailure("rec-LRA cannot train this model: \(unsupportedReason(for: model) ?? "")")
        }
        prepare(model)
        let s = signals(stages, batch: batch, model: model)
        let scale = 1 / Float(batch.count)
        // ΔW = e·z_prevᵀ (the weight-gradient operator of each layer applied to e, through its BatchNorm).
        for (index, stage) in stages.enumerated() {
            let e = s.errors[index].mapped { $0 * scale }
            if let parts = stage.residual {
                _ = Self.backward(parts.body[parts.outerWeight...], e, feedback: nil, propagate: false)
                _ = Self.backward(parts.unit.shortcut[...], e, feedback: nil, propagate: false)
                _ = Self.backward(parts.body[..<parts.innerActivation], s.innerErrors[index]!.mapped { $0 * scale }, feedback: nil, propagate: false)
            } else {
                _ = Self.backward(stage, e, feedback: nil, propagate: false)
            }
        }
        let gamma = configuration.gamma, source = sources(stages)
        for (layer, synapse) in innerSynapses {
            let parts = stages[layer].residual!
            if configuration.errorSynapses == .trackForward {
                synapse.gradient = parts.outer.weight.gradient.mapped { gamma * $0 }
            } else {
                let (e, d) = (s.errors[layer], s.innerDisplacements[layer]!)
                synapse.gradient = BLAS.matmul(e.reshaped([e.shape[0], e.count / e.shape[0]]), d.reshaped([d.shape[0], d.count / d.shape[0]]),
                                               transposeA: true).mapped { gamma * scale * $0 }
            }
        }
        for (layer, synapse) in errorSynapses.enumerated() {
            let e = s.errors[source[layer]]
            if configuration.errorSynapses == .trackForward && source[layer] == layer + 1 {
                synapse.gradient = stages[layer + 1].weighted.weight.gradient.mapped { gamma * $0 }
            } else {
                let d = s.displacements[layer]
                synapse.gradient = BLAS.matmul(e.reshaped([e.shape[0], e.count / e.shape[0]]), d.reshaped([d.shape[0], d.count / d.shape[0]]),
                                               transposeA: true).mapped { gamma * scale * $0 }
            }
        }
        optimizer.update(model.parameters + allSynapses)
        return StepStatistics(loss: s.loss.loss, correct: SoftmaxCrossEntropy.correctCount(s.preActivations.last!, labels: batch.labels),
                              count: batch.count)
    }

    /// Signal: each displacement — through the next block's weighted layer with E (as many MACs as
    /// its forward) for chain links, C·|z_ℓ| for output-skip links. Update: the weight gradients plus
    /// one MAC per error-synapse entry.
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        prepare(model)
        guard case let .success(stages) = Self.stages(of: model) else { return MACBreakdown(forward: model.forwardMACs, signal: 0, update: 0) }
        let weighted = model.layerMACs.filter { $0.layer is WeightedLayer }.map(\.macs)
        let source = sources(stages)
        let signal = errorSynapses.enumerated().reduce(0) { total, item in
            total + (source[item.offset] == item.offset + 1 ? weighted[item.offset + 1] : item.element.value.count)
        } + innerSynapses.keys.reduce(0) { total, layer in
            total + stages[layer].residual!.outer.weight.value.count * (model.blockOutputShapes[layer].dropFirst().reduce(1, *))
        }
        let synapses = allSynapses.reduce(0) { $0 + $1.value.count }
        return MACBreakdown(forward: model.forwardMACs, signal: signal, update: model.weightGradientMACs + synapses)
    }

    /// The error synapses and their gradients.
    public func stateBytes(_ model: Model) -> Int {
        prepare(model)
        return allSynapses.reduce(0) { $0 + 2 * $1.value.count * MemoryLayout<Float>.stride }
    }
}

extension RecursiveLRA {
    /// The error synapses, `E_<j>_to_<l>` (layers counted from 1).
    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] {
        prepare(model)
        return allSynapses.map { ($0.name, $0) }
    }

    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] { [:] }
    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {}
}

extension RecursiveLRA {
    public static var descriptor: RuleDescriptor {
        RuleDescriptor(name: "reclra", summary: "recursive local representation alignment: targets from error synapses, ΔW = e·zᵀ",
                       defaults: Configuration(), options: [
            .number("beta", \.beta, help: "β, how far targets move against the displacement."),
            .number("gamma", \.gamma, help: "γ, the error synapses' update factor; 0 keeps E fixed. Adaptive optimizers (adam, adamw, adamax) normalise γ away: there only γ = 0 versus γ > 0 matters."),
            .choice("error-synapses", \.errorSynapses, help: "Error-synapse rule: track-forward (ΔE = γ·ΔWᵀ of the next layer, as LRA-E; skip synapses use Eq. 6) or paper (Eq. 6, E moves by −γ·d·eᵀ)."),
            .choice("wiring", \.wiring, help: "chain (error from the next layer) or output-skip (every layer from the output)."),
            .number("error-init", \.errorInitScale, help: "Standard deviation of the Gaussian error-synapse initialisation.",
                    requirement: "a positive number") { $0 > 0 },
        ]) { configuration, seed in RecursiveLRA(configuration, seed: seed) }
    }
}
