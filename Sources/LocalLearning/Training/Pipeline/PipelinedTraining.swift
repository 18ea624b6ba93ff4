import Foundation

/// Runs a unit-local rule's steps as a pipeline: stage k trains its units on its own thread, takes
/// batch t's activation from stage k−1 through a bounded queue and hands its output on, so stage k
/// works on batch t while stage k−1 works on batch t+1. Each stage updates its own parameters as
/// soon as its unit losses are computed.
///
/// Every stage handles batches in order and a unit's loss touches only that unit's state, so the
/// weights after each batch are the ones sequential training gives (`LocalTraining.step`): a stage
/// sees exactly the input the sequential step would give it, computed by the earlier stage before
/// its update for that batch. The rule's per-step state (`beginStep`) is drawn on the submitting
/// thread, in batch order.
///
/// Threads and BLAS: the stages call BLAS at the same time; run them with one BLAS thread each
/// (`Runtime.configure(threads: 1)`), since OpenBLAS's worker pool is shared by all callers.
/// The model's memory meter is not sampled while the pipeline runs (stages would race on it).
public final class PipelinedTraining: StagePipeline, @unchecked Sendable {
    /// One batch on its way through the stages.
    struct Message {
        var index: Int
        var learningRate: Float
        var activation: Tensor
        var labels: [Int32]
        var state: LocalStepState
        /// The first block whose weights a stage found non-finite after its update.
        var brokenBlock: String?
    }

    let rule: any UnitLocalRule
    let model: Model
    let optimizer: Optimizer
    public let plan: StagePlan
    let units: [ClosedRange<Int>]
    private let inboxes: [BlockingQueue<Message?>]
    private let results = BlockingQueue<PipelineResult>()
    private let finished = DispatchGroup()
    private var running = false
    private var savedMeter: MemoryMeter?

    /// `queueCapacity`: batches that may wait between two stages.
    public init(rule: any UnitLocalRule, model: Model, optimizer: Optimizer, plan: StagePlan, queueCapacity: Int = 2) {
        rule.prepare(model)
        self.rule = rule
        self.model = model
        self.optimizer = optimizer
        self.plan = plan
        units = rule.units(of: model)
        precondition(plan.stages.last!.upperBound == units.count, "the plan covers \(plan.stages.last!.upperBound) of \(units.count) units")
        inboxes = (0..<plan.count).map { _ in BlockingQueue(capacity: queueCapacity) }
    }

    /// The plan that balances the units' training MACs (3× their forward MACs) over `stages` stages.
    public static func balancedPlan(rule: any UnitLocalRule, model: Model, stages: Int) -> StagePlan {
        rule.prepare(model)
        let units = rule.units(of: model)
        var blockMACs = [Int](repeating: 0, count: model.blocks.count)
        for entry in model.layerMACs { blockMACs[entry.block] += entry.macs }
        let unitCosts = units.map { unit in unit.reduce(0) { $0 + blockMACs[$1] } }
        let top = blockMACs[(units.last.map { $0.upperBound + 1 } ?? 0)...].reduce(0, +)
        return StagePlan.balanced(unitCosts: unitCosts, topCost: top, count: min(stages, units.count + 1))
    }

    /// Starts one thread per stage.
    public func start() {
        precondition(!running, "the pipeline is already running")
        running = true
        savedMeter = model.memoryMeter
        model.memoryMeter = nil
        if rule.releasesActivations { model.layers.forEach { $0.releaseHeld() } }
        for stage in 0..<plan.count {
            finished.enter()
            let thread = Thread { [self] in
                runStage(stage)
                finished.leave()
            }
            thread.name = "locallearn stage \(stage + 1)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Hands a batch to the first stage (waits while its queue is full). Call in batch order.
    public func submit(_ batch: Batch, index: Int, learningRate: Float) {
        precondition(running, "start the pipeline first")
        let state = rule.beginStep(batch, model: model)
        inboxes[0].put(Message(index: index, learningRate: learningRate, activation: batch.images, labels: batch.labels, state: state))
    }

    /// The next finished step, waiting for it.
    public func nextResult() -> PipelineResult { results.take() }

    /// The next finished step if there is one.
    public func pollResult() -> PipelineResult? { results.poll() }

    /// Lets the stages finish the batches already submitted, then stops their threads; results not
    /// yet taken stay available.
    public func finish() {
        guard running else { return }
        inboxes[0].put(nil)
        finished.wait()
        running = false
        model.memoryMeter = savedMeter
    }

    private func runStage(_ stage: Int) {
        let last = stage == plan.count - 1
        let work = StageWork(stage: stage, plan: plan, units: units, rule: rule, model: model, optimizer: optimizer)
        while let received = inboxes[stage].take() {
            var message = received
            let statistics = work.train(&message.activation, labels: message.labels, state: &message.state,
                                        learningRate: message.learningRate, brokenBlock: &message.brokenBlock)
            if let statistics {
                results.put(PipelineResult(index: message.index, statistics: statistics, brokenBlock: message.brokenBlock))
            } else {
                inboxes[stage + 1].put(message)
            }
        }
        if !last { inboxes[stage + 1].put(nil) }
    }
}
