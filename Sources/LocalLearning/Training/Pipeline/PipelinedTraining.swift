import Foundation

/// Runs a unit-local rule's steps as a pipeline: stage k trains its units on batch t's activation,
/// handed on from stage k−1, while stage k−1 already works on batch t+1. Each stage updates its own
/// parameters as soon as its unit losses are computed.
///
/// The stages are served by `threads` worker threads. With one thread per stage every thread
/// effectively owns a stage; with fewer threads than stages (e.g. `StagePlan.perUnit`) a free thread
/// takes the deepest stage that has a batch waiting and is not being run, so the threads share the
/// work however unevenly it is spread over the units.
///
/// Every stage handles batches in order, by one thread at a time, and a unit's loss touches only
/// that unit's state, so the weights after each batch are the ones sequential training gives
/// (`LocalTraining.step`) whatever the plan and thread count: a stage sees exactly the input the
/// sequential step would give it, computed by the earlier stage before its update for that batch.
/// The rule's per-step state (`beginStep`) is drawn on the submitting thread, in batch order.
///
/// Threads and BLAS: the workers call BLAS at the same time; run them with one BLAS thread each
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
    public let plan: StagePlan
    /// Worker threads serving the stages.
    public let threads: Int
    private let works: [StageWork]
    /// Batches submitted and not yet through the last stage, at most.
    private let capacity: Int
    private let condition = NSCondition()
    /// Per stage, the batches waiting for it, oldest first (guarded by `condition`).
    private var waiting: [[Message]]
    private var busy: [Bool]
    private var inFlight = 0
    private var closing = false
    private let results = BlockingQueue<PipelineResult>()
    private let finished = DispatchGroup()
    private var running = false
    private var savedMeter: MemoryMeter?

    /// `threads`: worker threads (default one per stage); `queueCapacity`: batches in flight per stage.
    public init(rule: any UnitLocalRule, model: Model, optimizer: Optimizer, plan: StagePlan, threads: Int? = nil,
                queueCapacity: Int = 2) {
        rule.prepare(model)
        self.rule = rule
        self.model = model
        self.plan = plan
        self.threads = threads ?? plan.count
        precondition(self.threads >= 1, "a pipeline needs at least one thread")
        let units = rule.units(of: model)
        precondition(plan.stages.last!.upperBound == units.count, "the plan covers \(plan.stages.last!.upperBound) of \(units.count) units")
        works = (0..<plan.count).map { StageWork(stage: $0, plan: plan, units: units, rule: rule, model: model, optimizer: optimizer) }
        capacity = plan.count * queueCapacity
        waiting = Array(repeating: [], count: plan.count)
        busy = Array(repeating: false, count: plan.count)
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

    /// Starts the worker threads.
    public func start() {
        precondition(!running, "the pipeline is already running")
        running = true
        closing = false
        savedMeter = model.memoryMeter
        model.memoryMeter = nil
        if rule.releasesActivations { model.layers.forEach { $0.releaseHeld() } }
        for worker in 0..<threads {
            finished.enter()
            let thread = Thread { [self] in
                runWorker()
                finished.leave()
            }
            thread.name = "locallearn stage worker \(worker + 1)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Hands a batch to the first stage (waits while the pipeline is full). Call in batch order.
    public func submit(_ batch: Batch, index: Int, learningRate: Float) {
        precondition(running, "start the pipeline first")
        let state = rule.beginStep(batch, model: model)
        let message = Message(index: index, learningRate: learningRate, activation: batch.images, labels: batch.labels, state: state)
        condition.lock()
        defer { condition.unlock() }
        while inFlight >= capacity { condition.wait() }
        inFlight += 1
        waiting[0].append(message)
        condition.broadcast()
    }

    /// The next finished step, waiting for it.
    public func nextResult() -> PipelineResult { results.take() }

    /// The next finished step if there is one.
    public func pollResult() -> PipelineResult? { results.poll() }

    /// Lets the stages finish the batches already submitted, then stops the workers; results not
    /// yet taken stay available.
    public func finish() {
        guard running else { return }
        condition.lock()
        closing = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
        running = false
        model.memoryMeter = savedMeter
    }

    /// Takes the deepest stage with a batch waiting that no other worker runs, trains it, hands the
    /// batch on; returns once the pipeline is closing and empty.
    private func runWorker() {
        condition.lock()
        defer { condition.unlock() }
        while true {
            guard let stage = plan.stages.indices.reversed().first(where: { !busy[$0] && !waiting[$0].isEmpty }) else {
                if closing && inFlight == 0 { return }
                condition.wait()
                continue
            }
            busy[stage] = true
            var message = waiting[stage].removeFirst()
            condition.unlock()
            let statistics = works[stage].train(&message.activation, labels: message.labels, state: &message.state,
                                                learningRate: message.learningRate, brokenBlock: &message.brokenBlock)
            condition.lock()
            busy[stage] = false
            if let statistics {
                results.put(PipelineResult(index: message.index, statistics: statistics, brokenBlock: message.brokenBlock))
                inFlight -= 1
            } else {
                waiting[stage + 1].append(message)
            }
            condition.broadcast()
        }
    }
}
