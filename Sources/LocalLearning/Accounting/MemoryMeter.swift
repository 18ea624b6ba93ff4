/// The engine's own account of training memory. Between samples nothing is estimated: a sample adds
/// up the distinct buffers every layer of the model holds right then (activations cached for
/// backward, scratch buffers; shared storage counted once) and the tensors the step has in flight,
/// and keeps the largest total seen. Rules sample where their live set is largest (the model samples
/// after every block of a training forward and backward).
public final class MemoryMeter {
    /// Largest activation + scratch bytes seen by a sample.
    public private(set) var peakActivationBytes = 0
    /// Largest total of the model's allocated parameter gradients seen by a sample.
    public private(set) var peakGradientBytes = 0
    public private(set) var samples = 0

    public init() {}

    /// `extraLayers`: layers outside the model that hold buffers now (auxiliary networks).
    public func sample(_ model: Model, extraLayers: [Layer] = [], inFlight: [Tensor] = []) {
        var seen = Set<UInt>()
        var total = 0
        let layers = model.layers + extraLayers.flatMap(\.leaves)
        for buffer in layers.flatMap(\.heldBuffers) + inFlight.compactMap(\.heldBuffer) where seen.insert(buffer.address).inserted {
            total += buffer.bytes
        }
        peakActivationBytes = max(peakActivationBytes, total)
        let gradients = model.parameters.reduce(0) { $0 + ($1.holdsGradient ? $1.gradient.count * MemoryLayout<Float>.stride : 0) }
        peakGradientBytes = max(peakGradientBytes, gradients)
        samples += 1
    }

    public func reset() {
        peakActivationBytes = 0
        peakGradientBytes = 0
        samples = 0
    }
}

/// Peak training memory of one run, by kind.
public struct MemoryReport: Sendable, Codable, Equatable {
    /// Model parameters.
    public var parameterBytes: Int
    /// Parameter gradients at their peak (all of them, unless `Model.transientGradients`).
    public var gradientBytes: Int
    /// Optimizer moments.
    public var optimizerBytes: Int
    /// State the rule owns: feedback matrices, bases, learned modulations, auxiliary networks.
    public var ruleStateBytes: Int
    /// Peak of activations cached for backward, scratch buffers and tensors in flight during a step.
    public var peakActivationBytes: Int

    public init(parameterBytes: Int, gradientBytes: Int, optimizerBytes: Int, ruleStateBytes: Int, peakActivationBytes: Int) {
        self.parameterBytes = parameterBytes
        self.gradientBytes = gradientBytes
        self.optimizerBytes = optimizerBytes
        self.ruleStateBytes = ruleStateBytes
        self.peakActivationBytes = peakActivationBytes
    }

    /// Everything the step needs at its peak (the kinds' peaks added: an upper bound).
    public var totalBytes: Int { parameterBytes + gradientBytes + optimizerBytes + ruleStateBytes + peakActivationBytes }

    /// What training needs beyond the model's parameters and their optimizer moments (which every
    /// rule needs alike): activations and scratch, gradients, rule state.
    public var workingBytes: Int { gradientBytes + ruleStateBytes + peakActivationBytes }

    /// Reads the meter, the model, the optimizer and the rule after at least one step.
    public init(meter: MemoryMeter, model: Model, optimizer: Optimizer, rule: LearningRule) {
        let parameterBytes = model.parameterCount * MemoryLayout<Float>.stride
        self.init(parameterBytes: parameterBytes, gradientBytes: meter.samples > 0 ? meter.peakGradientBytes : parameterBytes,
                  optimizerBytes: optimizer.stateBytes,
                  ruleStateBytes: rule.stateBytes(model), peakActivationBytes: meter.peakActivationBytes)
    }
}
