/// What a step of a unit-local rule hands from unit to unit besides the activation (SLL: the
/// step's masked projections and the parent's codes). Keyed by the rule; empty for most rules.
public struct LocalStepState: Sendable {
    public var tensors: [Int: Tensor] = [:]
    public init() {}
}

/// A rule whose every learning signal is local to a unit of blocks (LLS, SLL, DGL, AugLocal): each
/// unit trains on its own loss on a detached input, the classifier (with a global tail of blocks) on
/// the output loss. Such a rule supplies only the unit losses; `LocalTraining` runs the step, and
/// `PipelinedTraining` can run its units on different threads.
///
/// A unit's loss may touch only that unit's own state (its head, its projection): then units can
/// learn concurrently, each in batch order, with the same result as one after another.
public protocol UnitLocalRule: LearningRule {
    /// Consecutive hidden blocks per unit.
    var unitSize: Int { get }
    /// Hidden blocks trained with the classifier by the output loss (AugLocal's d + 1).
    var globalTail: Int { get }
    /// Whether each unit frees what it held for backward as soon as its update is done.
    var releasesActivations: Bool { get }
    /// Whether a unit's loss reads its last block's output (after pooling) instead of `SignalTap`'s activation.
    var tapsBlockOutput: Bool { get }
    /// The state a step starts with, drawn in the order the sequential step would draw it.
    func beginStep(_ batch: Batch, model: Model) -> LocalStepState
    /// The loss of the unit whose last block is `block`, on that block's tapped `activation`, with
    /// ∂loss/∂activation and the extra parameters the loss trains (heads, modulations).
    func unitLoss(block: Int, activation: Tensor, labels: [Int32], state: inout LocalStepState, model: Model) -> (LossResult, [Parameter])
}

extension UnitLocalRule {
    public var unitSize: Int { 1 }
    public var globalTail: Int { 0 }
    public var releasesActivations: Bool { true }
    public var tapsBlockOutput: Bool { false }
    public func beginStep(_ batch: Batch, model: Model) -> LocalStepState { LocalStepState() }
    /// Units learn from their own losses only: any of them can run as a pipeline stage.
    public var pipelineRefusal: String? { nil }

    public func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics {
        prepare(model)
        return LocalTraining.step(rule: self, model: model, batch: batch, optimizer: optimizer)
    }

    /// Learning-signal MACs per sample of backprop from the output through the global tail and the
    /// classifier (every weighted layer there but the first, which sends nothing further down).
    public func globalTailSignalMACs(_ model: Model) -> Int {
        let top = model.blocks.count - 1 - globalTail
        return model.layerMACs.filter { $0.layer is WeightedLayer && $0.block >= top }.dropFirst().reduce(0) { $0 + $1.macs }
    }

    /// The hidden units this rule trains locally on `model`.
    public func units(of model: Model) -> [ClosedRange<Int>] {
        LocalTraining.units(of: model, size: unitSize, globalTail: globalTail)
    }
}
