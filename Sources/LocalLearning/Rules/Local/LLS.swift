/// LLS — local learning inspired by neural activity synchronization (Apolinario, Roy & Roy, WACV 2025),
/// as its public reference code does it: every hidden block trains on its own `LLSHead` loss, on a
/// detached input, one block after another during the forward pass; the classifier trains with
/// cross-entropy on the detached output of the last block (see `LocalTraining`). Prediction is the
/// plain forward pass; the bases are used only for learning.
///
/// Pool sizes follow the reference: conv blocks pool their activation to 4×4 (the first conv block)
/// or 2×2 (later ones); linear blocks use their own width (no pooling). `modulation` gives LLS-M
/// (learned m ∈ R^C per block) or LLS-MxM (learned M ∈ R^{C×C} per block).
public final class LLS: UnitLocalRule {
    public struct Configuration: Sendable, Equatable {
        public var basis: ClassBasis = .square
        public var temperature: Float = 0.5
        public var modulation: LLSHead.Modulation = .none
        /// s for the first conv block and for later ones.
        public var firstConvPool = 4
        public var convPool = 2
        /// Free each block's activations once its update is done.
        public var releaseActivations = true
        /// Consecutive blocks trained as one unit (backprop inside; the loss at the unit's last block).
        public var unitSize = 1

        public init(basis: ClassBasis = .square, temperature: Float = 0.5, modulation: LLSHead.Modulation = .none, unitSize: Int = 1) {
            self.basis = basis
            self.temperature = temperature
            self.modulation = modulation
            self.unitSize = unitSize
        }
    }

    public let configuration: Configuration
    private let seed: UInt64
    /// One head per hidden block, built on first use.
    public private(set) var heads: [LLSHead] = []

    public init(_ configuration: Configuration = Configuration(), seed: UInt64 = 1) {
        self.configuration = configuration
        self.seed = seed
    }

    public var name: String {
        switch configuration.modulation {
        case .none: "lls"
        case .vector: "lls-m"
        case .matrix: "lls-mxm"
        }
    }

    public func unsupportedReason(for model: Model) -> String? {
        model.blocks.count < 2 ? "the model has no hidden block to train with a local loss" : nil
    }

    /// Builds the heads for `model`'s hidden blocks (once).
    public func prepare(_ model: Model) {
        guard heads.isEmpty else { return }
        var convBlocks = 0
        for (index, shape) in SignalTap.lossShapes(of: model).enumerated() {
            let pool: Int
            if shape.count == 3 {
                pool = convBlocks == 0 ? configuration.firstConvPool : configuration.convPool
                convBlocks += 1
            } else {
                pool = shape.reduce(1, *)
            }
            heads.append(LLSHead(activationShape: shape.count == 3 ? shape : [shape.reduce(1, *)], classes: model.classes,
                                 poolSize: pool, basis: configuration.basis, temperature: configuration.temperature,
                                 modulation: configuration.modulation, seed: seed &+ UInt64(index)))
        }
    }

    public var unitSize: Int { configuration.unitSize }
    public var releasesActivations: Bool { configuration.releaseActivations }

    public func unitLoss(block: Int, activation: Tensor, labels: [Int32], state: inout LocalStepState, model: Model) -> (LossResult, [Parameter]) {
        (heads[block].lossAndGradient(activation, labels: labels), heads[block].parameters)
    }

    /// Forward: the network. Signal: per hidden block, the adaptive pooling (one MAC per averaged
    /// input element, forward and backward), the L2 normalisation (4 per feature: norm, scale, and
    /// their backward), the basis projection and its transpose (2·C·D), and the modulation (3·C for
    /// m, 3·C² for M: product, its input gradient, its own gradient). Update: the weight gradients.
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        prepare(model)
        var signal = LocalTraining.withinUnitPropagationMACs(model, unitSize: configuration.unitSize)
        let shapes = SignalTap.lossShapes(of: model)
        for unit in LocalTraining.units(of: model, size: configuration.unitSize) {
            let (head, shape) = (heads[unit.upperBound], shapes[unit.upperBound])
            let elements = shape.reduce(1, *)
            let pooling = head.features == elements && shape.count == 1 ? 0 : 2 * elements
            let c = head.classes, d = head.features
            let modulation = switch head.modulation { case .none: 0; case .vector: 3 * c; case .matrix: 3 * c * c }
            signal += pooling + 4 * d + 2 * c * d + modulation
        }
        return MACBreakdown(forward: model.forwardMACs, signal: signal, update: model.weightGradientMACs)
    }

    /// The bases (fixed, 4 bytes per entry) and the modulation parameters with their gradients.
    public func stateBytes(_ model: Model) -> Int {
        prepare(model)
        return heads.reduce(0) { $0 + ($1.basis.count + 2 * ($1.modulationParameter?.value.count ?? 0)) * MemoryLayout<Float>.stride }
    }
}

extension LLS {
    /// `<block>.modulation`: m (lls-m) or M (lls-mxm) of every hidden block.
    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] {
        prepare(model)
        return zip(model.blocks, heads).compactMap { block, head in head.modulationParameter.map { ("\(block.name).modulation", $0) } }
    }

    /// The bases are a function of (C, D) and the seed; nothing else to save.
    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] { [:] }
    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {}
}

extension LLS {
    /// lls (`.none`), lls-m (`.vector`) or lls-mxm (`.matrix`).
    public static func descriptor(_ modulation: LLSHead.Modulation) -> RuleDescriptor {
        let name = LLS(Configuration(modulation: modulation)).name
        let summary = switch modulation {
        case .none: "each block's pooled output projected onto fixed periodic class bases, local cross-entropy"
        case .vector: "LLS with a learned modulation vector per block"
        case .matrix: "LLS with a learned modulation matrix per block"
        }
        return RuleDescriptor(name: name, summary: summary, defaults: Configuration(modulation: modulation), options: [
            .choice("basis", \.basis, help: "Class basis of the local loss."),
            .number("temperature", \.temperature, help: "Softmax temperature of the local loss.", requirement: "a positive number") { $0 > 0 },
            .localUnit(\.unitSize),
        ], recipe: RuleRecipe(optimizer: .adamw, learningRate: 5e-3), diagnoseInComparisons: true) { configuration, seed in
            LLS(configuration, seed: seed)
        }
    }
}
