/// Mean squared error over all elements: L = (1/M) Σ (p − t)²;  ∂L/∂p = 2(p − t)/M.
public struct MeanSquaredError: Sendable {
    public init() {}

    public func callAsFunction(_ prediction: Tensor, target: Tensor) -> LossResult {
        precondition(prediction.shape == target.shape, "MSE needs equal shapes, got \(prediction.shape) and \(target.shape)")
        let m = Float(prediction.count)
        var total = 0.0
        let gradient = Tensor(uninitializedShape: prediction.shape) { g in
            prediction.withUnsafeBufferPointer { p in
                target.withUnsafeBufferPointer { t in
                    for i in 0..<g.count {
                        let d = p[i] - t[i]
                        total += Double(d * d)
                        g[i] = 2 * d / m
                    }
                }
            }
        }
        return LossResult(loss: Float(total / Double(m)), gradient: gradient)
    }
}
