/// Multiply–accumulates per training sample, split the way local-learning papers compare rules.
public struct MACBreakdown: Sendable, Codable, Equatable {
    /// The forward pass of the network (inference cost).
    public var forward: Int
    /// Producing every layer's learning signal: BP's backward error propagation through the layers
    /// above, FA's through its feedback matrices, DFA's projections of the output error, LLS's pooling
    /// and basis projection (both directions).
    public var signal: Int
    /// Weight gradients from the signal (the outer products / correlations with the layer input).
    public var update: Int

    public init(forward: Int, signal: Int, update: Int) {
        self.forward = forward
        self.signal = signal
        self.update = update
    }

    public var total: Int { forward + signal + update }
}

/// Layers whose forward pass costs multiply–accumulates. Elementwise layers, normalisation and
/// pooling count as free, as in the papers' tables.
public protocol CountsMACs {
    /// MACs of one sample's forward pass for a per-sample input shape.
    func forwardMACs(inputShape: [Int]) -> Int
}

extension Linear: CountsMACs {
    /// Per token for a token sequence [T, in].
    public func forwardMACs(inputShape: [Int]) -> Int { inputSize * outputSize * (inputShape.count == 2 ? inputShape[0] : 1) }
}

extension Conv2D: CountsMACs {
    public func forwardMACs(inputShape: [Int]) -> Int {
        let g = geometry(height: inputShape[1], width: inputShape[2])
        return g.patchSize * outChannels * g.outputPlane
    }
}

extension SelfAttention: CountsMACs {
    /// q·kᵀ and P·v: 2·T²·D.
    public func forwardMACs(inputShape: [Int]) -> Int { 2 * inputShape[0] * inputShape[0] * dimension }
}

extension Model {
    /// Forward MACs per sample of every layer, in order, with the index of its block.
    /// Composite layers (residual blocks) are listed by the layers inside them.
    public var layerMACs: [(block: Int, layer: Layer, macs: Int)] {
        // Shapes were validated when the model was built.
        func expand(_ layer: Layer, _ shape: [Int], _ block: Int) -> [(Int, Layer, Int)] {
            guard let composite = layer as? CompositeLayer else {
                return [(block, layer, (layer as? CountsMACs)?.forwardMACs(inputShape: shape) ?? 0)]
            }
            return composite.parts.flatMap { part in
                var s = shape
                return part.layers.flatMap { inner in
                    defer { s = try! inner.outputShape(for: s) }
                    return expand(inner, s, block)
                }
            }
        }
        var result: [(Int, Layer, Int)] = []
        var shape = inputShape
        for (index, block) in blocks.enumerated() {
            for layer in block.layers {
                result += expand(layer, shape, index)
                shape = try! layer.outputShape(for: shape)
            }
        }
        return result
    }

    public var forwardMACs: Int { layerMACs.reduce(0) { $0 + $1.macs } }

    /// MACs of the weight gradients: one per forward MAC of every weighted layer.
    public var weightGradientMACs: Int { layerMACs.filter { $0.layer is WeightedLayer }.reduce(0) { $0 + $1.macs } }

    /// MACs of sending the error back through every weighted layer except the first (whose input
    /// needs no gradient): one per forward MAC, whether through W (BP) or a feedback matrix (FA); and
    /// through every attention layer above it: two per forward MAC (dv, dP, dq and dk).
    public var errorPropagationMACs: Int { Self.propagationMACs(layerMACs) }

    /// MACs of sending an error back through a run of layers (`layerMACs` entries, in forward order)
    /// down to its first weighted layer, whose input needs no gradient: one per forward MAC of every
    /// later weighted layer, two of every attention layer (dv, dP, dq, dk), none for the rest.
    static func propagationMACs(_ entries: [(block: Int, layer: Layer, macs: Int)]) -> Int {
        entries.drop { !($0.layer is WeightedLayer) }.dropFirst().reduce(0) { total, entry in
            total + (entry.layer is WeightedLayer ? entry.macs : entry.layer is SelfAttention ? 2 * entry.macs : 0)
        }
    }
}
