/// A short run of layers (e.g. conv→BN→activation→pool, or linear→activation): the unit that local
/// learning rules train and that memory accounting reports.
public final class Block {
    public let name: String
    public let layers: [Layer]

    public init(name: String, layers: [Layer]) {
        self.name = name
        self.layers = layers
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try layers.reduce(inputShape) { try $1.outputShape(for: $0) }
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        layers.reduce(input) { $1.forward($0, mode: mode) }
    }

    /// Runs every layer's backward from last to first; returns the gradient at the block's input
    /// when `propagate` is true (the first layer is told not to compute it otherwise).
    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        backward(outputGradient, propagate: propagate) { $0.backward($1, propagate: $2) }
    }

    /// Backward from the output of `layers[index]` (the layers after it are skipped: a signal that
    /// enters the block before its pooling).
    public func backward(_ gradient: Tensor, fromLayer index: Int, propagate: Bool) -> Tensor? {
        backward(gradient, fromLayer: index, propagate: propagate) { $0.backward($1, propagate: $2) }
    }

    /// The same pass with `layerBackward(layer, outputGradient, propagate)` standing in for each
    /// layer's own backward: the hook a learning rule uses to choose the signal a layer sends down.
    /// `fromLayer` (default: the last) is the layer whose output `outputGradient` belongs to.
    public func backward(_ outputGradient: Tensor, fromLayer last: Int? = nil, propagate: Bool,
                         layerBackward: (Layer, Tensor, Bool) -> Tensor?) -> Tensor? {
        LayerChain.backward(layers[...(last ?? layers.count - 1)], outputGradient, propagate: propagate, layerBackward: layerBackward)
    }

    /// False when a parameter or BatchNorm statistic holds NaN or ±Inf (a vectorised sum per tensor:
    /// NaN and ±Inf survive it).
    public var hasFiniteWeights: Bool {
        func finite(_ t: Tensor) -> Bool { t.withUnsafeBufferPointer { VectorMath.sum($0.baseAddress!, count: $0.count).isFinite } }
        return parameters.allSatisfy { finite($0.value) }
            && layers.flatMap(\.leaves).allSatisfy { ($0 as? BatchNorm).map { finite($0.runningStatistics.mean) && finite($0.runningStatistics.variance) } ?? true }
    }

    public var summary: String { "\(name): " + layers.map(\.summary).joined(separator: " → ") }
}
