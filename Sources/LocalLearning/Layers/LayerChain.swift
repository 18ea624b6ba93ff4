/// Backward through a chain of layers, from the last to the first — the one walk that blocks,
/// residual bodies, auxiliary networks and rules share. `layerBackward(layer, gradient, propagate)`
/// stands in for each non-composite layer's own backward (a rule passes a feedback matrix there);
/// the first layer is asked for its input gradient only when `propagate`. Returns the gradient at
/// the chain's input (nil when not asked for, or when a layer stops the walk).
public enum LayerChain {
    public static func backward<Layers: BidirectionalCollection>(
        _ layers: Layers, _ gradient: Tensor, propagate: Bool,
        layerBackward: (Layer, Tensor, Bool) -> Tensor? = { $0.backward($1, propagate: $2) }) -> Tensor? where Layers.Element == Layer {
        var g = gradient
        var index = layers.endIndex
        while index > layers.startIndex {
            index = layers.index(before: index)
            let needInput = propagate || index > layers.startIndex
            guard let next = layers[index].backward(g, propagate: needInput, layerBackward: layerBackward) else { return nil }
            g = next
        }
        return g
    }
}
