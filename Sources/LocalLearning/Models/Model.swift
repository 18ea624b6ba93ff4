/// A network: a sequence of blocks with a known per-sample input shape and class count.
public final class Model {
    public let blocks: [Block]
    public let inputShape: [Int]
    public let classes: Int
    /// The spec string the model was built from, when it was built from one.
    public let spec: String
    /// Per-sample output shape of each block, in order (the last is [classes]).
    public let blockOutputShapes: [[Int]]
    /// When set, training forwards and backwards sample it after every block.
    public var memoryMeter: MemoryMeter?
    /// When set, unit-local rules report each unit's local loss and head accuracy to it.
    public var unitMonitor: UnitMonitor?
    /// When true, a unit-local rule allocates a unit's parameter gradients just before that unit's
    /// backward and frees them after its update, so at most one unit's gradients are live
    /// (`LocalTraining`); setting it frees every gradient now, clearing it allocates them again.
    /// Rules that need all gradients at once (bp, the FA family, dfa, reclra) need it false.
    public var transientGradients = false {
        didSet {
            for parameter in parameters {
                if transientGradients { parameter.releaseGradient() } else { parameter.prepareGradient() }
            }
        }
    }

    /// Checks that the blocks chain from `inputShape` to `[classes]`.
    public init(blocks: [Block], inputShape: [Int], classes: Int, spec: String = "custom") throws {
        self.blocks = blocks
        self.inputShape = inputShape
        self.classes = classes
        self.spec = spec
        var shape = inputShape
        var shapes: [[Int]] = []
        for block in blocks {
            shape = try block.outputShape(for: shape)
            shapes.append(shape)
        }
        blockOutputShapes = shapes
        guard shape == [classes] else {
            throw ModelError.invalidSpec(spec: spec, reason: "the network ends in shape \(shape), expected [\(classes)] classes")
        }
    }

    public var parameters: [Parameter] { blocks.flatMap(\.parameters) }
    /// Every layer, composite layers (residual blocks) replaced by the layers inside them.
    public var layers: [Layer] { blocks.flatMap(\.layers).flatMap(\.leaves) }

    /// Every non-composite layer with its name: `<block>.<index>` for a block's own layers,
    /// `<block>.<index>.<part>.<index>` inside a composite one (e.g. `res2.0.body.3`).
    public var namedLayers: [(name: String, layer: Layer)] {
        blocks.flatMap { Model.named($0.layers, prefix: $0.name) }
    }

    /// `layers` and the layers inside composite ones, named `<prefix>.<index>[.<part>.<index>…]`.
    public static func named(_ layers: [Layer], prefix: String) -> [(name: String, layer: Layer)] {
        layers.enumerated().flatMap { index, layer -> [(name: String, layer: Layer)] in
            let name = "\(prefix).\(index)"
            guard let composite = layer as? CompositeLayer else { return [(name, layer)] }
            return composite.parts.flatMap { named($0.layers, prefix: "\(name).\($0.name)") }
        }
    }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Logits [N, classes] for a batch [N, inputShape…].
    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        guard mode == .training, let meter = memoryMeter else { return blocks.reduce(input) { $1.forward($0, mode: mode) } }
        return blocks.reduce(input) { x, block in
            let y = block.forward(x, mode: mode)
            meter.sample(self, inFlight: [x, y])
            return y
        }
    }

    /// Backpropagates `outputGradient` (∂L/∂logits) through every block, writing every parameter's gradient.
    public func backward(_ outputGradient: Tensor) {
        backward(outputGradient) { $0.backward($1, propagate: $2) }
    }

    /// The same pass with `layerBackward(layer, outputGradient, propagate)` standing in for each layer's backward.
    public func backward(_ outputGradient: Tensor, layerBackward: (Layer, Tensor, Bool) -> Tensor?) {
        var gradient = outputGradient
        for (index, block) in blocks.enumerated().reversed() {
            guard let g = block.backward(gradient, propagate: index > 0, layerBackward: layerBackward) else { return }
            memoryMeter?.sample(self, inFlight: [gradient, g])
            gradient = g
        }
    }

    /// The first block with a NaN or infinite parameter or BatchNorm statistic, or nil.
    public var firstBlockWithNonFiniteWeights: Block? { blocks.first { !$0.hasFiniteWeights } }

    /// The weighted layers (Linear, Conv2D) in forward order.
    public var weightedLayers: [WeightedLayer] { layers.compactMap { $0 as? WeightedLayer } }

    /// A multi-line description: each block with its layers and output shape, then the parameter count.
    public var summary: String {
        var lines = ["\(spec): input \(inputShape), \(classes) classes"]
        for (block, shape) in zip(blocks, blockOutputShapes) {
            lines.append("  \(block.summary)  ⇒ \(shape)")
        }
        lines.append("  \(parameterCount) parameters")
        return lines.joined(separator: "\n")
    }
}
