/// A small network trained only to give a block a local loss: its layers run on the block's tapped
/// activation, cross-entropy on its logits is the loss, and its input gradient is the block's signal.
/// Used by DGL (a fixed small head) and AugLocal (copies of later units' architecture).
public final class AuxiliaryNetwork {
    public let layers: [Layer]

    public init(layers: [Layer]) {
        self.layers = layers
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Cross-entropy of the network's logits on `activation` and ∂loss/∂activation; writes the
    /// network's own parameter gradients.
    public func lossAndGradient(_ activation: Tensor, labels: [Int32]) -> LossResult {
        let logits = layers.reduce(activation) { $1.forward($0, mode: .training) }
        let loss = SoftmaxCrossEntropy()(logits, labels: labels)
        let gradient = Residual.chain(layers, loss.gradient, propagate: true) { $0.backward($1, propagate: $2) }!
        layers.forEach { $0.releaseHeld() }
        return LossResult(loss: loss.loss, gradient: gradient)
    }

    /// Forward MACs per sample for a per-sample input shape (its backward costs about twice that).
    public func forwardMACs(inputShape: [Int]) -> Int {
        var shape = inputShape, total = 0
        for layer in layers {
            total += Self.macs(layer, shape)
            shape = try! layer.outputShape(for: shape)
        }
        return total
    }

    static func macs(_ layer: Layer, _ shape: [Int]) -> Int {
        if let composite = layer as? CompositeLayer {
            return composite.parts.reduce(0) { total, part in
                var s = shape
                return total + part.layers.reduce(0) { sum, inner in
                    defer { s = try! inner.outputShape(for: s) }
                    return sum + macs(inner, s)
                }
            }
        }
        return (layer as? CountsMACs)?.forwardMACs(inputShape: shape) ?? 0
    }
}
