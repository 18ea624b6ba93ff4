/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay,
/// with PyTorch's update: g ← g + λw; v ← μv + g (v = g on the first step);
/// w ← w − η·(g + μv) with Nesterov, else w ← w − η·v.
public final class SGD: Optimizer, HasOptimizerSlots {
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    let slots: OptimizerSlots

    public var stateBytes: Int { slots.bytes }

    public init(learningRate: Float, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        precondition(momentum >= 0 && weightDecay >= 0, "SGD needs momentum ≥ 0 and weight decay ≥ 0")
        precondition(!nesterov || momentum > 0, "Nesterov momentum needs momentum > 0")
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        slots = OptimizerSlots(moments: momentum > 0 ? 1 : 0)
    }

    public func update(_ parameters: [Parameter], learningRate: Float) {
        let (lr, mu, wd) = (learningRate, momentum, weightDecay)
        for parameter in parameters {
            let slot = slots.slot(for: parameter)
            let first = slot.steps == 0
            slot.steps += 1
            let grad = parameter.gradient
            parameter.value.withUnsafeMutableBufferPointer { w in
                grad.withUnsafeBufferPointer { g in
                    slot.first.withUnsafeMutableBufferPointer { v in
                        // One branch-free loop per case, so each vectorises.
                        Parallel.forRanges(w.count, costPerItem: 4) { range in
                        if mu == 0 {
                            for i in range { w[i] -= lr * (g[i] + wd * w[i]) }
                        } else if first {
                            for i in range { v[i] = g[i] + wd * w[i] }
                        } else {
                            for i in range { v[i] = mu * v[i] + g[i] + wd * w[i] }
                        }
                        if mu > 0 && nesterov {
                            for i in range { w[i] -= lr * (g[i] + wd * w[i] + mu * v[i]) }
                        } else if mu > 0 {
                            for i in range { w[i] -= lr * v[i] }
                        }
                        }
                    }
                }
            }
        }
    }
}
