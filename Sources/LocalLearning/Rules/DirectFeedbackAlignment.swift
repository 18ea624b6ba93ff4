/// Direct feedback alignment (Nøkland, 2016): the output error e = ∂L/∂logits = (softmax − onehot)/N
/// goes straight to every hidden block through a fixed random matrix B_i (classes × the size of the
/// activation it enters) and is then backpropagated inside the block only (so it is multiplied by the
/// activation derivative). The classifier block gets the true error. No signal passes from block to block.
///
/// Where the signal enters a block that ends in pooling (`Injection`): `.beforePooling` (default) at
/// the activation's output, all C·H·W of it — where the LLS reference code's DFA baseline hooks its
/// feedback (`TrainingHook` of dim [C, 32, 32, 32] on a 32-channel 32×32 map); `.afterPooling` at the
/// block's output, as this project did before 2026-12-01 (4× fewer feedback rows after a 2×2 max-pool,
/// and a sparser signal through the pool's backward). Blocks without pooling are the same either way.
///
/// On a token model (a ViT, whose classifier reads the class token or the mean token), the output error
/// exists only for what the classifier reads, so by default (`TokenInjection.read`) B_i is
/// [classes, D] and the signal enters the read token of each block's output (the class token, or every
/// token by 1/T for the mean), where BP's gradient at the last block is nonzero; `.all` projects it onto
/// every token ([classes, T·D]), as DFA does for language models, where every token has an error.
public final class DirectFeedbackAlignment: LearningRule {
    public enum Injection: String, Sendable, CaseIterable {
        case beforePooling = "before-pooling"
        case afterPooling = "after-pooling"
    }

    public enum TokenInjection: String, Sendable, CaseIterable {
        case read
        case all
    }

    public let initializer: Initializer
    public let injection: Injection
    public let tokenInjection: TokenInjection
    /// Present when `--constrain-weights` keeps every ‖W‖ at its initial value.
    public let weightConstraint: WeightNormConstraint?
    private var rng: SeededGenerator
    /// B_i for each hidden block, [classes, size of the activation the signal enters].
    private var matrices: [Int: Tensor] = [:]

    public init(initializer: Initializer = .xavierUniform, injection: Injection = .beforePooling, tokenInjection: TokenInjection = .read,
                constrainWeights: Bool = false, seed: UInt64 = 1) {
        self.initializer = initializer
        self.injection = injection
        self.tokenInjection = tokenInjection
        self.weightConstraint = constrainWeights ? WeightNormConstraint() : nil
        self.rng = SeededGenerator(seed: seed ^ 0xDFA0_DFA0)
    }

    public var name: String { "dfa" }

    public var pipelineRefusal: String? {
        "DFA's hidden layers learn from the output error of the same batch, which a pipeline could deliver only "
            + "(stages − 1) batches late; delayed DFA is not supported"
    }

    /// Per-sample shape of the activation the signal enters, for every hidden block.
    public func activationShapes(_ model: Model) -> [[Int]] {
        injection == .beforePooling ? SignalTap.hiddenShapes(of: model) : Array(model.blockOutputShapes.dropLast())
    }

    /// Per-sample shape B_i projects the error to: the activation, or its read token on a token model.
    public func injectionShapes(_ model: Model) -> [[Int]] {
        tokenInjection == .read ? activationShapes(model).map { SignalTap.lossShape($0, of: model) } : activationShapes(model)
    }

    /// The layer of `block` whose output receives the signal.
    func injectionLayer(_ block: Block) -> Int {
        injection == .beforePooling ? SignalTap.index(in: block) : block.layers.count - 1
    }

    /// Draws B_i for every hidden block not seen yet.
    public func prepare(_ model: Model) {
        weightConstraint?.prepare(model)
        let shapes = injectionShapes(model)
        for index in 0..<(model.blocks.count - 1) where matrices[index] == nil {
            matrices[index] = initializer.make([model.classes, shapes[index].reduce(1, *)], using: &rng)
        }
    }

    public func feedbackMatrix(forBlock index: Int) -> Tensor? { matrices[index] }

    /// Replaces B_i, e.g. with the output weights to compare with backprop.
    public func setFeedback(_ matrix: Tensor, forBlock index: Int, of model: Model) {
        let size = injectionShapes(model)[index].reduce(1, *)
        precondition(matrix.shape == [model.classes, size], "DFA feedback for block \(index) must be [\(model.classes), \(size)]")
        matrices[index] = matrix
    }

    public func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics {
        prepare(model)
        let output = OutputError(model: model, batch: batch)
        let error = output.gradient
        let shapes = injectionShapes(model), activations = activationShapes(model)
        let reading = SignalTap.tokenReading(of: model)
        for (index, block) in model.blocks.enumerated() {
            if index == model.blocks.count - 1 {
                _ = block.backward(error, propagate: false)
            } else {
                var signal = BLAS.matmul(error, matrices[index]!).reshaped([batch.count] + shapes[index])
                if let reading, shapes[index] != activations[index] {
                    signal = TokenPool.spread(signal, tokens: activations[index][0], reading)
                }
                _ = block.backward(signal, fromLayer: injectionLayer(block), propagate: false)
            }
        }
        optimizer.update(model.parameters)
        weightConstraint?.apply(model)
        return output.statistics(batch)
    }
}

extension DirectFeedbackAlignment {
    /// Signal: the output error projected to every hidden block's injection point (classes × its size).
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        let projections = injectionShapes(model).reduce(0) { $0 + model.classes * $1.reduce(1, *) }
        return MACBreakdown(forward: model.forwardMACs, signal: projections, update: model.weightGradientMACs)
    }

    public func stateBytes(_ model: Model) -> Int {
        prepare(model)
        return matrices.values.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
    }
}

extension DirectFeedbackAlignment {
    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] { [] }

    /// `<block>.feedback`: B_i of every hidden block; the weight-norm targets.
    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] {
        prepare(model)
        var entries: [String: Safetensors.Entry] = [:]
        for (index, matrix) in matrices { entries["\(model.blocks[index].name).feedback"] = .init(matrix) }
        return entries.merging(weightConstraint?.checkpointState(model) ?? [:]) { a, _ in a }
    }

    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {
        prepare(model)
        for (index, matrix) in matrices {
            matrices[index] = try file.tensor("\(prefix)\(model.blocks[index].name).feedback", shape: matrix.shape, path: path)
        }
        try weightConstraint?.restoreState(file, prefix: prefix, model: model, path: path)
    }
}

extension DirectFeedbackAlignment {
    public struct Settings: Sendable {
        public var feedbackInitializer = Initializer.xavierUniform
        public var constrainWeights = false
        public var injection = Injection.beforePooling
        public var tokenInjection = TokenInjection.read
    }

    public static var descriptor: RuleDescriptor {
        RuleDescriptor(name: "dfa", summary: "direct feedback alignment: the output error reaches every block through a fixed random matrix",
                       defaults: Settings(), options: [
                           .feedbackInit(\.feedbackInitializer), .constrainWeights(\.constrainWeights),
                           .choice("dfa-injection", \.injection, help: "Where the signal enters a block that ends in pooling: before-pooling (the activation's output, all C·H·W; the LLS reference code's DFA) or after-pooling (the block's output)."),
                           .choice("dfa-tokens", \.tokenInjection, help: "On a ViT: read (the signal enters the token the classifier reads: the class token, or every token by 1/T for the mean) or all (a projection onto every token)."),
                       ],
                       // Runs saved before --dfa-injection existed (2026-12-01) injected after pooling.
                       legacyOptionValues: ["dfa-injection": "after-pooling"]) { settings, seed in
            DirectFeedbackAlignment(initializer: settings.feedbackInitializer, injection: settings.injection,
                                    tokenInjection: settings.tokenInjection, constrainWeights: settings.constrainWeights, seed: seed)
        }
    }
}
