#if canImport(Glibc)
import Glibc
#endif

/// The angle, per weighted layer, between the update a learning rule computes and the true backprop
/// gradient on the same batch — the quantity feedback-alignment theory is about. 0° means the rule
/// follows the gradient; below 90° it still descends.
///
/// Measuring runs the rule's step and a backprop step with an optimizer that applies nothing, so the
/// weights are untouched; BatchNorm running statistics are restored afterwards, and the model's
/// memory meter does not see the measurement. Dropout masks are
/// drawn as in any step (so a run with diagnostics draws different later masks than one without).
public enum UpdateAlignment {
    public struct LayerAngle: Sendable, Codable, Equatable {
        public var layer: String
        /// nil when either vector is zero.
        public var degrees: Double?
    }

    public static func measure(rule: LearningRule, model: Model, batch: Batch) -> [LayerAngle] {
        let saved = model.layers.compactMap { $0 as? BatchNorm }.map { ($0, $0.runningStatistics) }
        // The measurement is not part of training: keep its backprop pass out of the memory meter.
        let meter = model.memoryMeter
        model.memoryMeter = nil
        defer {
            for (bn, stats) in saved { bn.runningStatistics = stats }
            model.memoryMeter = meter
        }
        let ruleGradients = GradientRecorder(), backpropGradients = GradientRecorder()
        _ = rule.step(model: model, batch: batch, optimizer: ruleGradients)
        _ = Backprop().step(model: model, batch: batch, optimizer: backpropGradients)
        return model.blocks.flatMap { block in
            block.layers.flatMap(\.leaves).compactMap { $0 as? WeightedLayer }.map { layer in
                let name = "\(block.name).\(layer.summary)"
                guard let a = ruleGradients.gradient(of: layer.weight), let b = backpropGradients.gradient(of: layer.weight) else {
                    return LayerAngle(layer: name, degrees: nil)
                }
                return LayerAngle(layer: name, degrees: angle(a, b))
            }
        }
    }

    /// The angle between two tensors as vectors, in degrees (nil when either is zero).
    public static func angle(_ a: Tensor, _ b: Tensor) -> Double? {
        precondition(a.shape == b.shape, "angle between \(a.shape) and \(b.shape)")
        var dot = 0.0
        for i in 0..<a.count { dot += Double(a[i]) * Double(b[i]) }
        let norms = (a.squaredNorm * b.squaredNorm).squareRoot()
        guard norms > 0 else { return nil }
        return acos(max(-1, min(1, dot / norms))) * 180 / Double.pi
    }
}

/// An optimizer that applies nothing and keeps a copy of every gradient it is handed.
final class GradientRecorder: Optimizer {
    var learningRate: Float = 0
    var stateBytes: Int { 0 }
    private var gradients: [ObjectIdentifier: Tensor] = [:]

    func update(_ parameters: [Parameter], learningRate: Float) {
        for p in parameters { gradients[ObjectIdentifier(p)] = p.gradient }
    }

    func gradient(of parameter: Parameter) -> Tensor? { gradients[ObjectIdentifier(parameter)] }
}
