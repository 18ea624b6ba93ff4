/// Keeps each weighted layer's Frobenius norm ‖W‖ at its value when first seen, by rescaling W
/// after every update (an option of the feedback-alignment rules, `--constrain-weights`).
public final class WeightNormConstraint {
    private var norms: [ObjectIdentifier: Double] = [:]

    public init() {}

    /// Records the norm of every weighted layer not seen yet.
    public func prepare(_ model: Model) {
        for layer in model.weightedLayers where norms[ObjectIdentifier(layer)] == nil {
            norms[ObjectIdentifier(layer)] = layer.weight.value.squaredNorm.squareRoot()
        }
    }

    /// Rescales every weighted layer back to its recorded norm.
    public func apply(_ model: Model) {
        for layer in model.weightedLayers {
            guard let target = norms[ObjectIdentifier(layer)] else { continue }
            let now = layer.weight.value.squaredNorm.squareRoot()
            guard now > 0 else { continue }
            let scale = Float(target / now)
            layer.weight.value.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] *= scale } }
        }
    }
}
