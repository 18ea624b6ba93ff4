import LocalLearning

/// A unit-local rule's stages as MPI ranks: rank k trains stage k's units (`StagePlan`), receiving
/// each batch's activation, labels and step state from rank k−1 and sending its output to rank
/// k+1; the last rank trains the classifier and sends the step's statistics to rank 0. Rank 0 runs
/// the training loop (`MPIStagePipeline`, stage 0 trained in its own thread of control); the others
/// serve (`MPIStageWorker`). Every rank builds the same model, rule and optimizer from the same
/// options; at the end of each stretch of batches every block's weights are broadcast from the rank
/// that trains it, so every rank holds the whole up-to-date model (rank 0 evaluates it).
final class MPIStageContext {
    let world: MPIWorld
    let rule: any UnitLocalRule
    let model: Model
    let optimizer: Optimizer
    let plan: StagePlan
    let units: [ClosedRange<Int>]
    let work: StageWork
    /// The rank that trains each block.
    let owners: [Int]

    init(world: MPIWorld, rule: any UnitLocalRule, model: Model, optimizer: Optimizer, plan: StagePlan) {
        precondition(plan.count == world.size, "\(plan.count) stages need \(plan.count) ranks, not \(world.size)")
        rule.prepare(model)
        (self.world, self.rule, self.model, self.optimizer, self.plan) = (world, rule, model, optimizer, plan)
        units = rule.units(of: model)
        var owners = [Int](repeating: 0, count: model.blocks.count)
        for stage in 0..<plan.count {
            for block in plan.blocks(ofStage: stage, units: units, blockCount: model.blocks.count) { owners[block] = stage }
        }
        self.owners = owners
        work = StageWork(stage: world.rank, plan: plan, units: units, rule: rule, model: model, optimizer: optimizer)
    }

    var isLast: Bool { world.rank == plan.count - 1 }

    /// Trains this rank's units (and, on the last rank, the classifier) on `message`.
    func train(_ message: inout StageMessage) -> StepStatistics? {
        work.train(&message.activation, labels: message.labels, state: &message.state, learningRate: message.learningRate,
                   brokenBlock: &message.brokenBlock)
    }

    /// Every block's parameters and BatchNorm statistics from the rank that trains it, to all ranks.
    func synchroniseWeights() {
        for (index, block) in model.blocks.enumerated() {
            let root = owners[index]
            for parameter in block.parameters { parameter.value.withUnsafeMutableBufferPointer { world.broadcast($0, root: root) } }
            for case let bn as BatchNorm in block.layers.flatMap(\.leaves) {
                var (mean, variance) = bn.runningStatistics
                mean.withUnsafeMutableBufferPointer { world.broadcast($0, root: root) }
                variance.withUnsafeMutableBufferPointer { world.broadcast($0, root: root) }
                bn.runningStatistics = (mean, variance)
            }
        }
    }
}

/// Rank 0's side of the MPI stages: the training loop's pipeline.
public final class MPIStagePipeline: StagePipeline {
    let context: MPIStageContext

    public init(world: MPIWorld, rule: any UnitLocalRule, model: Model, optimizer: Optimizer, plan: StagePlan) {
        precondition(world.rank == 0, "the training loop runs on rank 0")
        context = MPIStageContext(world: world, rule: rule, model: model, optimizer: optimizer, plan: plan)
    }

    public func start() {
        if context.rule.releasesActivations { context.model.layers.forEach { $0.releaseHeld() } }
    }

    public func submit(_ batch: Batch, index: Int, learningRate: Float) {
        var message = StageMessage(index: index, learningRate: learningRate, labels: batch.labels, activation: batch.images,
                                   state: context.rule.beginStep(batch, model: context.model), brokenBlock: nil)
        _ = context.train(&message)
        context.world.send(message.encoded, to: 1, tag: StageTag.data.rawValue)
    }

    public func pollResult() -> PipelineResult? {
        let last = context.plan.count - 1
        guard context.world.hasMessage(from: last, tag: StageTag.result.rawValue) else { return nil }
        return nextResult()
    }

    public func nextResult() -> PipelineResult {
        PipelineResult(decoding: context.world.receive(from: context.plan.count - 1, tag: StageTag.result.rawValue).bytes)
    }

    public func finish() {
        context.world.send([], to: 1, tag: StageTag.endOfStretch.rawValue)
        context.synchroniseWeights()
    }

    /// Tells the other ranks that training is over.
    public func shutdown() {
        context.world.send([], to: 1, tag: StageTag.done.rawValue)
    }
}

/// Ranks 1… of the MPI stages: serve batches until rank 0 says training is over.
public final class MPIStageWorker {
    let context: MPIStageContext

    public init(world: MPIWorld, rule: any UnitLocalRule, model: Model, optimizer: Optimizer, plan: StagePlan) {
        precondition(world.rank > 0, "rank 0 runs the training loop")
        context = MPIStageContext(world: world, rule: rule, model: model, optimizer: optimizer, plan: plan)
    }

    public func serve() {
        let (world, rank) = (context.world, context.world.rank)
        let next = context.isLast ? nil : rank + 1
        if context.rule.releasesActivations { context.model.layers.forEach { $0.releaseHeld() } }
        while true {
            let (bytes, tag) = world.receive(from: rank - 1)
            switch StageTag(rawValue: tag) {
            case .data:
                var message = StageMessage(decoding: bytes)
                if let statistics = context.train(&message) {
                    world.send(PipelineResult(index: message.index, statistics: statistics, brokenBlock: message.brokenBlock).encoded,
                               to: 0, tag: StageTag.result.rawValue)
                } else {
                    world.send(message.encoded, to: next!, tag: StageTag.data.rawValue)
                }
            case .endOfStretch:
                if let next { world.send([], to: next, tag: tag) }
                context.synchroniseWeights()
            case .checkpoint:
                if let next { world.send(bytes, to: next, tag: tag) }
                var answer = ByteWriter()
                answer.text(MPIStageCheckpoint.save(bytes, context: context))
                world.send(answer.bytes, to: 0, tag: StageTag.saved.rawValue)
            case .done, nil:
                if let next { world.send([], to: next, tag: StageTag.done.rawValue) }
                return
            case .result, .saved:
                preconditionFailure("rank \(rank) got a message meant for rank 0")
            }
        }
    }
}
