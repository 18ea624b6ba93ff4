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
    /// Each weighted layer with its `namedLayers` name.
    var namedWeightedLayers: [(name: String, layer: WeightedLayer)] {
        namedLayers.compactMap { name, layer in (layer as? WeightedLayer).map { (name, $0) } }
    }

    /// Every Dropout layer with its `namedLayers` name.
    var namedDropouts: [(name: String, layer: Dropout)] {
        namedLayers.compactMap { name, layer in (layer as? Dropout).map { (name, $0) } }
    }

    /// Every model parameter with its weights-file name.
    var namedParameters: [(name: String, parameter: Parameter)] {
        namedLayers.flatMap { name, layer in layer.parameters.map { ("\(name).\($0.name)", $0) } }
    }
}
