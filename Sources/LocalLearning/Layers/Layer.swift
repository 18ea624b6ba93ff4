/// Whether a forward pass trains (batch statistics, dropout, caches for backward) or evaluates.
public enum Mode: Sendable {
    /// Batch statistics, dropout, and what backward needs is kept.
    case training
    /// Inference: running statistics, no dropout, nothing kept.
    case evaluation
    /// Inference behaviour with what backward needs kept: the exact gradient of the evaluated network
    /// with respect to its input (adversarial attacks); BatchNorm's backward is then its affine map.
    case frozen

    /// Layers keep their inputs (or masks) for a backward pass.
    public var keepsForBackward: Bool { self != .evaluation }
}

/// A trainable tensor and the gradient the last backward pass wrote for it.
public final class Parameter {
    public let name: String
    public var value: Tensor
    /// Written (not accumulated) by the owning layer's backward, or by a learning rule directly.
    public var gradient: Tensor

    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
        self.gradient = Tensor(shape: value.shape)
    }

    /// Whether a gradient buffer is allocated (see `releaseGradient`).
    public var holdsGradient: Bool { gradient.shape == value.shape }

    /// Allocates a zeroed gradient buffer if `releaseGradient` freed it.
    public func prepareGradient() {
        if !holdsGradient { gradient = Tensor(shape: value.shape) }
    }

    /// Frees the gradient buffer until `prepareGradient` (local rules need a unit's gradients only
    /// while that unit trains).
    public func releaseGradient() {
        gradient = Tensor(shape: [0])
    }
}

/// A layer: a forward function and its vector–Jacobian product.
///
/// Shapes include the batch as the first dimension. `forward` in `.training` mode caches what
/// `backward` needs; `backward` writes the gradients of `parameters` and, when `propagate` is true,
/// returns the gradient with respect to the layer's input. Layers know nothing about learning rules.
public protocol Layer: AnyObject {
    /// One line for printing a model, e.g. `Linear(784→256)`.
    var summary: String { get }
    var parameters: [Parameter] { get }
    /// Per-sample output shape (no batch dimension) for a per-sample input shape.
    func outputShape(for inputShape: [Int]) throws -> [Int]
    func forward(_ input: Tensor, mode: Mode) -> Tensor
    func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor?
    /// The memory the layer holds between steps: what its last training forward cached for backward
    /// and its scratch buffers (read by `MemoryMeter`).
    var heldBuffers: [HeldBuffer] { get }
    /// Frees what `heldBuffers` lists; the next training forward allocates again. Backward needs a
    /// training forward after this.
    func releaseHeld()
}

/// A layer whose input gradient is a product with a weight matrix (Linear, Conv2D).
///
/// The caller may choose the matrix that carries the signal to the input: the layer's own weight by
/// default, or any tensor of the weight's shape (a feedback matrix) that a learning rule supplies.
/// The parameter gradients are the exact local ones either way.
public protocol WeightedLayer: Layer {
    var weight: Parameter { get }
    var bias: Parameter? { get }
    func backward(_ outputGradient: Tensor, feedback: Tensor?, propagate: Bool) -> Tensor?
}

extension WeightedLayer {
    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        backward(outputGradient, feedback: nil, propagate: propagate)
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
}

/// A layer whose per-sample computation is elementwise; it has no parameters.
extension Layer {
    public var parameters: [Parameter] { [] }
    public var heldBuffers: [HeldBuffer] { [] }
    public func releaseHeld() {}
}

/// Errors from building or shaping a model.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(layer: String, expected: String, got: [Int])
    case invalidSpec(spec: String, reason: String)
    case unsupportedRule(rule: String, model: String, reason: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(layer, expected, got):
            return "\(layer) expects input \(expected), got \(got)"
        case let .invalidSpec(spec, reason):
            return "invalid model spec '\(spec)': \(reason)"
        case let .unsupportedRule(rule, model, reason):
            return "rule \(rule) cannot train \(model): \(reason)"
        }
    }
}

/// A reusable scratch buffer owned by a layer: grown when needed, never shrunk, freed with its owner.
final class Workspace {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init() {
        pointer = .allocate(capacity: 1)
        capacity = 1
    }

    /// A buffer of at least `count` floats; contents are unspecified.
    func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            pointer = .allocate(capacity: count)
            capacity = count
        }
        return pointer
    }

    /// Frees the buffer; the next `buffer(_:)` allocates again.
    func release() {
        pointer.deallocate()
        pointer = .allocate(capacity: 1)
        capacity = 1
    }

    deinit { pointer.deallocate() }
}
