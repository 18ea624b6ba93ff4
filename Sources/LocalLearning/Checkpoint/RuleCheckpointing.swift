/// A rule's own state, saved in checkpoints by name and restored exactly: feedback matrices, error
/// synapses, modulations, projections, generator states.
public protocol RuleCheckpointing {
    /// Parameters the rule trains besides the model's (error synapses, LLS modulations), by name.
    func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)]
    /// Everything else the rule keeps, by name.
    func checkpointState(_ model: Model) -> [String: Safetensors.Entry]
    /// Restores what `checkpointState` saved (under `prefix` in `file`) for `model`.
    func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws
}

extension Backprop: RuleCheckpointing {
    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] { [] }
    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] { [:] }
    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {}
}

extension Model {
    /// Each weighted layer with its `<block>.<layer index>` name.
    var namedWeightedLayers: [(name: String, layer: WeightedLayer)] {
        blocks.flatMap { block in
            block.layers.enumerated().compactMap { index, layer in (layer as? WeightedLayer).map { ("\(block.name).\(index)", $0) } }
        }
    }

    /// Every Dropout layer with its `<block>.<layer index>` name.
    var namedDropouts: [(name: String, layer: Dropout)] {
        blocks.flatMap { block in
            block.layers.enumerated().compactMap { index, layer in (layer as? Dropout).map { ("\(block.name).\(index)", $0) } }
        }
    }

    /// Every model parameter with its weights-file name.
    var namedParameters: [(name: String, parameter: Parameter)] {
        blocks.flatMap { block in
            block.layers.enumerated().flatMap { index, layer in layer.parameters.map { ("\(block.name).\(index).\($0.name)", $0) } }
        }
    }
}
