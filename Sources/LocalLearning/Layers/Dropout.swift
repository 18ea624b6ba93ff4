/// Inverted dropout: in training each element is zeroed with probability p and the survivors scaled
/// by 1/(1−p); evaluation is the identity. The mask comes from the layer's own seeded generator.
public final class Dropout: Layer {
    public let probability: Float
    private var rng: SeededGenerator
    private var mask = Tensor(shape: [0])

    public var heldBuffers: [HeldBuffer] { mask.heldBuffer.map { [$0] } ?? [] }
    public func releaseHeld() { mask = Tensor(shape: [0]) }

    public init(probability: Float, rng: inout SeededGenerator) {
        precondition(probability >= 0 && probability < 1, "Dropout probability must be in [0, 1), got \(probability)")
        self.probability = probability
        self.rng = rng.fork()
    }

    /// The mask generator's state (checkpoints save and restore it).
    public var randomState: [UInt64] {
        get { rng.stateWords }
        set { rng.stateWords = newValue }
    }

    /// The last forward was frozen (identity), so backward is too.
    private var passesThrough = false

    public var summary: String { "Dropout(\(probability))" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        passesThrough = mode == .frozen
        guard mode == .training, probability > 0 else { return input }
        let keep = 1 - probability, scale = 1 / keep
        mask = Tensor(uninitializedShape: input.shape) { m in
            for i in m.indices { m[i] = rng.nextUniform() < keep ? scale : 0 }
        }
        return input.multiplied(by: mask)
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        guard propagate else { return nil }
        guard probability > 0, !passesThrough else { return outputGradient }
        precondition(mask.shape == outputGradient.shape, "Dropout: backward without a matching training forward")
        return outputGradient.multiplied(by: mask)
    }
}
