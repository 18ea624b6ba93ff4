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
