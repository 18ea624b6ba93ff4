#if canImport(Glibc)
import Glibc
#endif

/// Adamax (Kingma & Ba, the ∞-norm variant of Adam), as in PyTorch:
/// m ← β₁m + (1−β₁)g;  u ← max(β₂u, |g| + ε);  w ← w − η/(1−β₁ᵗ)·m/u.  L2 weight decay: g ← g + λw.
public final class Adamax: Optimizer, HasOptimizerSlots {
    public var learningRate: Float
    public let beta1, beta2, epsilon, weightDecay: Float
    let slots = OptimizerSlots(moments: 2)

    public var stateBytes: Int { slots.bytes }

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
        precondition(weightDecay >= 0, "weight decay must be ≥ 0")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public func update(_ parameters: [Parameter], learningRate: Float) {
        let (lr, b1, b2, eps, wd) = (learningRate, beta1, beta2, epsilon, weightDecay)
        for parameter in parameters {
            let slot = slots.slot(for: parameter)
            slot.steps += 1
            let stepSize = lr / (1 - powf(b1, Float(slot.steps)))
            let grad = parameter.gradient
            parameter.value.withUnsafeMutableBufferPointer { w in
                grad.withUnsafeBufferPointer { g in
                    slot.first.withUnsafeMutableBufferPointer { m in
                        slot.second.withUnsafeMutableBufferPointer { u in
                            for i in 0..<w.count {
                                let gi = g[i] + wd * w[i]
                                m[i] = b1 * m[i] + (1 - b1) * gi
                                u[i] = max(b2 * u[i], abs(gi) + eps)
                                w[i] -= stepSize * m[i] / u[i]
                            }
                        }
                    }
                }
            }
        }
    }
}
