#if canImport(Glibc)
import Glibc
#endif

/// Adam (Kingma & Ba) with bias correction, as in PyTorch:
/// m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  w ← w − η·m̂/(√v̂ + ε).
/// Weight decay is L2 (g ← g + λw) for Adam, or decoupled (w ← w − ηλw) for AdamW.
public final class Adam: Optimizer, HasOptimizerSlots {
    public var learningRate: Float
    public let beta1, beta2, epsilon, weightDecay: Float
    public let decoupled: Bool
    let slots = OptimizerSlots(moments: 2)

    public var stateBytes: Int { slots.bytes }

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0, decoupled: Bool = false) {
        precondition(weightDecay >= 0, "weight decay must be ≥ 0")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupled = decoupled
    }

    public func update(_ parameters: [Parameter], learningRate: Float) {
        let (lr, b1, b2, eps, wd) = (learningRate, beta1, beta2, epsilon, weightDecay)
        for parameter in parameters {
            let slot = slots.slot(for: parameter)
            slot.steps += 1
            let t = Float(slot.steps)
            let stepSize = lr / (1 - powf(b1, t))
            let secondCorrection = 1 / (1 - powf(b2, t)).squareRoot()
            let l2: Float = decoupled ? 0 : wd
            let shrink: Float = decoupled ? 1 - lr * wd : 1
            let grad = parameter.gradient
            parameter.value.withUnsafeMutableBufferPointer { w in
                grad.withUnsafeBufferPointer { g in
                    slot.first.withUnsafeMutableBufferPointer { m in
                        slot.second.withUnsafeMutableBufferPointer { v in
                            Parallel.forRanges(w.count, costPerItem: 8) { range in
                                for i in range {
                                    let gi = g[i] + l2 * w[i]
                                    m[i] = b1 * m[i] + (1 - b1) * gi
                                    v[i] = b2 * v[i] + (1 - b2) * gi * gi
                                    w[i] = w[i] * shrink - stepSize * m[i] / (v[i].squareRoot() * secondCorrection + eps)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
