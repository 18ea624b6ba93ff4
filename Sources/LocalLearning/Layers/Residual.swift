/// A layer made of other layers. Its backward takes the same stand-in that `Block.backward` takes,
/// so a learning rule chooses the signal of every layer inside it too (FA's feedback matrices reach
/// the convolutions of a residual block).
public protocol CompositeLayer: Layer {
    /// The parts, each a named chain of layers (e.g. `body`, `shortcut`).
    var parts: [(name: String, layers: [Layer])] { get }
    func backward(_ outputGradient: Tensor, propagate: Bool, layerBackward: (Layer, Tensor, Bool) -> Tensor?) -> Tensor?
}

extension Layer {
    /// This layer, or for a composite layer every non-composite layer inside it, in forward order.
    public var leaves: [Layer] {
        guard let composite = self as? CompositeLayer else { return [self] }
        return composite.parts.flatMap { $0.layers.flatMap(\.leaves) }
    }

    /// Backward with `layerBackward` standing in for every non-composite layer's backward.
    func backward(_ outputGradient: Tensor, propagate: Bool, layerBackward: (Layer, Tensor, Bool) -> Tensor?) -> Tensor? {
        if let composite = self as? CompositeLayer {
            return composite.backward(outputGradient, propagate: propagate, layerBackward: layerBackward)
        }
        return layerBackward(self, outputGradient, propagate)
    }
}

/// A residual connection: y = body(x) + shortcut(x), the shortcut being the identity when empty
/// (the BasicBlock of ResNets: body conv-BN-ReLU-conv-BN, shortcut a strided 1×1 conv + BN where the
/// shape changes). The activation after the sum is the next layer of the block.
public final class Residual: CompositeLayer {
    public let body: [Layer]
    public let shortcut: [Layer]

    public init(body: [Layer], shortcut: [Layer] = []) {
        precondition(!body.isEmpty, "a residual connection needs a body")
        self.body = body
        self.shortcut = shortcut
    }

    public var parts: [(name: String, layers: [Layer])] { [("body", body), ("shortcut", shortcut)] }

    public var summary: String {
        "Residual(" + body.map(\.summary).joined(separator: " → ") + " + "
            + (shortcut.isEmpty ? "identity" : shortcut.map(\.summary).joined(separator: " → ")) + ")"
    }

    public var parameters: [Parameter] { (body + shortcut).flatMap(\.parameters) }
    public var heldBuffers: [HeldBuffer] { (body + shortcut).flatMap(\.heldBuffers) }
    public func releaseHeld() { (body + shortcut).forEach { $0.releaseHeld() } }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let main = try body.reduce(inputShape) { try $1.outputShape(for: $0) }
        let skip = try shortcut.reduce(inputShape) { try $1.outputShape(for: $0) }
        guard main == skip else {
            throw ModelError.shapeMismatch(layer: summary, expected: "a shortcut of the body's shape \(main)", got: skip)
        }
        return main
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        let main = body.reduce(input) { $1.forward($0, mode: mode) }
        let skip = shortcut.reduce(input) { $1.forward($0, mode: mode) }
        return Tensor.zip(main, skip, +)
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        backward(outputGradient, propagate: propagate) { $0.backward($1, propagate: $2) }
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool, layerBackward: (Layer, Tensor, Bool) -> Tensor?) -> Tensor? {
        let main = LayerChain.backward(body, outputGradient, propagate: propagate, layerBackward: layerBackward)
        let skip = shortcut.isEmpty ? outputGradient : LayerChain.backward(shortcut, outputGradient, propagate: propagate, layerBackward: layerBackward)
        guard propagate, let main, let skip else { return nil }
        return Tensor.zip(main, skip, +)
    }
}
