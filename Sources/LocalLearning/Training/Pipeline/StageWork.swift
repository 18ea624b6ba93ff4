/// What one pipeline stage does with a batch, wherever the stage runs (a thread or an MPI rank):
/// trains its units in order on the activation it received, and on the last stage the global tail
/// and classifier, then checks its own blocks' weights.
public struct StageWork {
    let rule: any UnitLocalRule
    let model: Model
    let optimizer: Optimizer
    let myUnits: [ClosedRange<Int>]
    let ownBlocks: [Block]
    public let isLast: Bool

    public init(stage: Int, plan: StagePlan, units: [ClosedRange<Int>], rule: any UnitLocalRule, model: Model, optimizer: Optimizer) {
        (self.rule, self.model, self.optimizer) = (rule, model, optimizer)
        myUnits = plan.stages[stage].map { units[$0] }
        ownBlocks = plan.blocks(ofStage: stage, units: units, blockCount: model.blocks.count).map { model.blocks[$0] }
        isLast = stage == plan.count - 1
    }

    /// Trains on one batch: `activation` becomes the stage's output; returns the step's statistics on
    /// the last stage (nil elsewhere). `brokenBlock` is set to this stage's first block with
    /// non-finite weights unless an earlier stage already named one.
    public func train(_ activation: inout Tensor, labels: [Int32], state: inout LocalStepState, learningRate: Float,
                      brokenBlock: inout String?) -> StepStatistics? {
        for unit in myUnits {
            activation = LocalTraining.trainUnit(unit, rule: rule, model: model, input: activation, labels: labels, state: &state,
                                                 optimizer: optimizer, learningRate: learningRate)
        }
        let statistics = isLast ? LocalTraining.trainTop(rule: rule, model: model, input: activation, labels: labels,
                                                         optimizer: optimizer, learningRate: learningRate) : nil
        if brokenBlock == nil { brokenBlock = ownBlocks.first { !$0.hasFiniteWeights }?.name }
        return statistics
    }
}
