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
    /// network's own parameter gradients. `model`'s memory meter, if any, sees the network's buffers
    /// (with the model's) at their peak, before they are freed.
    public func lossAndGradient(_ activation: Tensor, labels: [Int32], model: Model? = nil) -> LossResult {
        let logits = layers.reduce(activation) { $1.forward($0, mode: .training) }
        let loss = SoftmaxCrossEntropy()(logits, labels: labels)
        let gradient = LayerChain.backward(layers, loss.gradient, propagate: true)!
        if let model { model.memoryMeter?.sample(model, extraLayers: layers, inFlight: [activation, logits, gradient]) }
        layers.forEach { $0.releaseHeld() }
        return LossResult(loss: loss.loss, gradient: gradient, correct: loss.correct)
    }

    /// Forward MACs per sample for a per-sample input shape (its backward costs about twice that).
    public func forwardMACs(inputShape: [Int]) -> Int { Self.forwardMACs(of: layers, inputShape: inputShape) }

    /// Forward MACs per sample of a chain of `layers` for a per-sample input shape.
    static func forwardMACs(of layers: [Layer], inputShape: [Int]) -> Int {
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

/// Rules whose hidden blocks each train through an auxiliary network (DGL, AugLocal): their
/// checkpoints save the networks' parameters and BatchNorm statistics as `<block>.aux.<layer>.…`.
protocol AuxiliaryNetworkRule: LearningRule {
    var networks: [AuxiliaryNetwork] { get }
}

extension AuxiliaryNetworkRule {
    /// Each auxiliary network's layers with their names, beside the block they train.
    func namedLayers(_ model: Model) -> [(name: String, layer: Layer)] {
        prepare(model)
        return zip(model.blocks, networks).flatMap { block, network in Model.named(network.layers, prefix: "\(block.name).aux") }
    }

    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] {
        namedLayers(model).flatMap { name, layer in layer.parameters.map { ("\(name).\($0.name)", $0) } }
    }

    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] { BatchNorm.runningStatistics(of: namedLayers(model)) }

    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {
        try BatchNorm.restoreRunningStatistics(of: namedLayers(model), from: file, prefix: prefix, path: path)
    }
}

extension BatchNorm {
    /// `<name>.running_mean` and `<name>.running_var` of every BatchNorm among `layers`: the state a
    /// rule's own networks (auxiliary heads, decoders) save in checkpoints besides their parameters.
    static func runningStatistics(of layers: [(name: String, layer: Layer)]) -> [String: Safetensors.Entry] {
        var entries: [String: Safetensors.Entry] = [:]
        for case let (name, bn as BatchNorm) in layers {
            entries["\(name).running_mean"] = .init(bn.runningStatistics.mean)
            entries["\(name).running_var"] = .init(bn.runningStatistics.variance)
        }
        return entries
    }

    /// Restores what `runningStatistics(of:)` saved (under `prefix` in `file`).
    static func restoreRunningStatistics(of layers: [(name: String, layer: Layer)], from file: Safetensors.File, prefix: String, path: String) throws {
        for case let (name, bn as BatchNorm) in layers {
            bn.runningStatistics = (try file.tensor("\(prefix)\(name).running_mean", shape: [bn.channels], path: path),
                                    try file.tensor("\(prefix)\(name).running_var", shape: [bn.channels], path: path))
        }
    }
}
