/// rec-LRA — recursive local representation alignment (Ororbia, Mali, Kifer & Giles, AAAI 2023),
/// the paper's Algorithm 1 for networks of Linear→φ blocks and a softmax classifier:
///
/// - forward: h_ℓ = W_ℓ z_{ℓ−1} + b_ℓ, z_ℓ = φ(h_ℓ); the output error is e_L = softmax(h_L) − onehot(y);
/// - going down, layer ℓ gets a displacement d_ℓ = E_{j→ℓ} e_j through learned error synapses from
///   the layer j that feeds it error (j = ℓ+1 with `chain` wiring, j = L with `outputSkip`), the
///   target y_ℓ = φ(h_ℓ − β d_ℓ) and the error e_ℓ = z_ℓ − y_ℓ — only forward-type operations, no φ′,
///   so non-differentiable activations (sign) train;
/// - updates, batch-averaged and handed to the optimizer as gradients (W ← W − η·ΔW for SGD):
///   ΔW_ℓ = e_ℓ z_{ℓ−1}ᵀ, Δb_ℓ = e_ℓ. Error synapses either by the paper's Eq. 6 (`paper`), or as
///   LRA-E does, along the forward weights' update, ΔE_{ℓ+1→ℓ} = γ ΔW_{ℓ+1}ᵀ (`trackForward`), so
///   E − W_{ℓ+1}ᵀ stays nearly constant. Track-forward needs a forward weight to follow; synapses
///   from the output to a non-adjacent layer (output-skip wiring) use Eq. 6 either way.
///
/// The sign of Eq. 6: the paper writes ΔE = −γ·d_ℓ·e_jᵀ next to ΔW = e·zᵀ without saying how either
/// is applied. Both descend the layer's discrepancy ½‖e_ℓ‖² only if ΔW is subtracted and ΔE added
/// (for small β, ∂½‖e_ℓ‖²/∂E ∝ +(φ′ ⊙ d_ℓ) e_jᵀ); subtracting ΔE instead grows E along the errors
/// and diverged on MNIST within two epochs. So E moves by +ΔE: the optimizer is handed γ·d_ℓ·e_jᵀ.
///
/// E_{j→ℓ} is stored as an [n_j, n_ℓ] matrix (the layout of a weight from ℓ to j), drawn from
/// N(0, σ²). Once the errors are computed, every layer's update depends only on its own quantities,
/// so they could run concurrently.
public final class RecursiveLRA: LearningRule, RuleCosts, ModelRequirements {
    public enum ErrorSynapseRule: String, Sendable, CaseIterable, Codable {
        case paper
        case trackForward = "track-forward"
    }

    public enum Wiring: String, Sendable, CaseIterable, Codable {
        case chain
        case outputSkip = "output-skip"
    }

    public struct Configuration: Sendable, Equatable, Codable {
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

    /// One trained layer: its Linear and the φ after it (nil for the classifier).
    struct Stage {
        let linear: Linear
        let activation: ActivationFunction?
    }

    public let configuration: Configuration
    private var rng: SeededGenerator
    /// E_{j→ℓ} for each hidden layer ℓ, [n_j, n_ℓ].
    public private(set) var errorSynapses: [Parameter] = []

    public init(_ configuration: Configuration = Configuration(), seed: UInt64 = 1) {
        self.configuration = configuration
        rng = SeededGenerator(seed: seed ^ 0x1AA_E44)
    }

    public var name: String { "reclra" }

    /// The model as Linear→φ stages, or the reason it is not one.
    static func stages(of model: Model) -> Result<[Stage], RuleError> {
        var stages: [Stage] = []
        for (index, block) in model.blocks.enumerated() {
            let layers = block.layers.filter { !($0 is Flatten) }
            let last = index == model.blocks.count - 1
            guard let linear = layers.first as? Linear, layers.count == (last ? 1 : 2),
                  last || layers[1] is Activation else {
                return .failure(RuleError("rec-LRA trains blocks of Linear then an activation (and a Linear classifier); "
                                          + "block \(block.name) is \(block.layers.map(\.summary).joined(separator: " → "))"))
            }
            stages.append(Stage(linear: linear, activation: last ? nil : (layers[1] as! Activation).function))
        }
        return .success(stages)
    }

    public func unsupportedReason(for model: Model) -> String? {
        if case let .failure(error) = Self.stages(of: model) { return error.description }
        return nil
    }

    /// The source layer j of each hidden layer's error (indices into the stages).
    func sources(_ count: Int) -> [Int] {
        (0..<(count - 1)).map { configuration.wiring == .chain ? $0 + 1 : count - 1 }
    }

    /// Draws the error synapses (once).
    public func prepare(_ model: Model) {
        guard errorSynapses.isEmpty, case let .success(stages) = Self.stages(of: model) else { return }
        let sd = configuration.errorInitScale
        for (layer, source) in sources(stages.count).enumerated() {
            let shape = [stages[source].linear.outputSize, stages[layer].linear.outputSize]
            errorSynapses.append(Parameter(name: "E_\(source + 1)_to_\(layer + 1)",
                                           value: Tensor(shape: shape).mapped { _ in sd * rng.nextNormal() }))
        }
    }

    /// Everything one step computes before the updates: activities, displacements and errors.
    struct Signals {
        var inputs: [Tensor] = []        // z_{ℓ−1} of every stage, [N, n_{ℓ−1}]
        var preActivations: [Tensor] = []
        var displacements: [Tensor] = [] // d_ℓ of every hidden stage
        var errors: [Tensor] = []        // e_ℓ of every stage; the last is e_L
        var loss = LossResult(loss: 0, gradient: Tensor(shape: [0]))
    }

    func signals(_ stages: [Stage], batch: Batch) -> Signals {
        var s = Signals()
        var z = batch.images.reshaped([batch.count, batch.images.count / batch.count])
        var outputs: [Tensor] = []
        for stage in stages {
            s.inputs.append(z)
            let h = stage.linear.forward(z, mode: .evaluation)
            s.preActivations.append(h)
            z = stage.activation?.apply(h) ?? h
            outputs.append(z)
        }
        s.loss = SoftmaxCrossEntropy()(z, labels: batch.labels)
        let n = Float(batch.count)
        var errors = [Tensor?](repeating: nil, count: stages.count)
        errors[stages.count - 1] = s.loss.gradient.mapped { $0 * n }     // softmax − onehot, per sample
        s.displacements = [Tensor](repeating: Tensor(shape: [0]), count: stages.count - 1)
        let source = sources(stages.count)
        let beta = configuration.beta
        for layer in stride(from: stages.count - 2, through: 0, by: -1) {
            let d = BLAS.matmul(errors[source[layer]]!, errorSynapses[layer].value)
            s.displacements[layer] = d
            let target = stages[layer].activation!.apply(Tensor.zip(s.preActivations[layer], d) { $0 - beta * $1 })
            errors[layer] = Tensor.zip(outputs[layer], target) { $0 - $1 }
        }
        s.errors = errors.map { $0! }
        return s
    }

    public func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics {
        guard case let .success(stages) = Self.stages(of: model) else {
            preconditionFailure("rec-LRA cannot train this model: \(unsupportedReason(for: model) ?? "")")
        }
        prepare(model)
        let s = signals(stages, batch: batch)
        model.memoryMeter?.sample(model, inFlight: s.inputs + s.preActivations + s.displacements + s.errors)
        let scale = 1 / Float(batch.count)
        for (index, stage) in stages.enumerated() {
            stage.linear.weight.gradient = BLAS.matmul(s.errors[index], s.inputs[index], transposeA: true).mapped { $0 * scale }
            stage.linear.bias?.gradient = LLSHead.columnSums(s.errors[index]).mapped { $0 * scale }
        }
        let gamma = configuration.gamma, source = sources(stages.count)
        for (layer, synapse) in errorSynapses.enumerated() {
            if configuration.errorSynapses == .trackForward && source[layer] == layer + 1 {
                synapse.gradient = stages[layer + 1].linear.weight.gradient.mapped { gamma * $0 }
            } else {
                synapse.gradient = BLAS.matmul(s.errors[source[layer]], s.displacements[layer], transposeA: true).mapped { gamma * scale * $0 }
            }
        }
        optimizer.update(model.parameters + errorSynapses)
        return StepStatistics(loss: s.loss.loss, correct: SoftmaxCrossEntropy.correctCount(s.preActivations.last!, labels: batch.labels),
                              count: batch.count)
    }

    /// Signal: d_ℓ = E e_j (n_j·n_ℓ per hidden layer). Update: the weight gradients plus one MAC per
    /// error-synapse entry (Eq. 6's outer product or the copied forward update).
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        prepare(model)
        let synapses = errorSynapses.reduce(0) { $0 + $1.value.count }
        return MACBreakdown(forward: model.forwardMACs, signal: synapses, update: model.weightGradientMACs + synapses)
    }

    /// The error synapses and their gradients.
    public func stateBytes(_ model: Model) -> Int {
        prepare(model)
        return errorSynapses.reduce(0) { $0 + 2 * $1.value.count * MemoryLayout<Float>.stride }
    }
}

/// A rule that cannot run as configured or on a given model.
public struct RuleError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension RecursiveLRA: RuleCheckpointing {
    /// The error synapses, `E_<j>_to_<l>` (layers counted from 1).
    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] {
        prepare(model)
        return errorSynapses.map { ($0.name, $0) }
    }

    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] { [:] }
    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {}
}
