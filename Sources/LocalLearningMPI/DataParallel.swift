import LocalLearning

/// Data-parallel training over MPI ranks, for any rule whose learning goes through the optimizer:
/// every rank holds the whole model and sees the same global batch (same data order), takes its
/// share of the rows (rank r of R: rows ⌊r·N/R⌋ ..< ⌊(r+1)·N/R⌋), and lets the rule compute its
/// updates on them; before each optimizer update the gradients are summed over the ranks with
/// `MPI_Allreduce`, each weighted by its share of the batch, which gives the global batch's mean
/// gradient. Every rank then applies the same update.
///
/// Equal to single-process training with the global batch (to float rounding) when the model's
/// forward pass treats samples independently; BatchNorm (statistics per share) and dropout (each
/// rank draws its own masks) make it differ, as in every data-parallel framework.
public final class DataParallelRule: LearningRule {
    public let inner: LearningRule
    let world: MPIWorld

    public init(_ inner: LearningRule, world: MPIWorld) {
        self.inner = inner
        self.world = world
    }

    public var name: String { inner.name }

    // Everything but the step is the inner rule's.
    public func prepare(_ model: Model) { inner.prepare(model) }
    public func unsupportedReason(for model: Model) -> String? { inner.unsupportedReason(for: model) }
    public func macsPerSample(_ model: Model) -> MACBreakdown { inner.macsPerSample(model) }
    public func stateBytes(_ model: Model) -> Int { inner.stateBytes(model) }
    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] { inner.ownParameters(model) }
    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] { inner.checkpointState(model) }
    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {
        try inner.restoreState(file, prefix: prefix, model: model, path: path)
    }
    public var pipelineRefusal: String? { "data-parallel training runs the whole model on every rank" }
    public var dataParallelRefusal: String? { inner.dataParallelRefusal }
    public func scores(model: Model, images: Tensor) -> Tensor { inner.scores(model: model, images: images) }

    /// This rank's rows of a batch of `count`.
    public func share(of count: Int) -> Range<Int> {
        (world.rank * count / world.size)..<((world.rank + 1) * count / world.size)
    }

    public func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics {
        let rows = share(of: batch.count)
        let perSample = batch.images.count / max(batch.count, 1)
        let images = Tensor(shape: [rows.count] + batch.images.shape.dropFirst(),
                            scalars: Array(batch.images.scalars[(rows.lowerBound * perSample)..<(rows.upperBound * perSample)]))
        let shard = Batch(images: images, labels: Array(batch.labels[rows]))
        let reducing = AllreducingOptimizer(base: optimizer, world: world, weight: Float(rows.count) / Float(batch.count))
        let local = inner.step(model: model, batch: shard, optimizer: reducing)
        var totals: [Float] = [local.loss * Float(local.count), Float(local.correct), Float(local.count)]
        world.allreduceSum(&totals)
        return StepStatistics(loss: totals[0] / totals[2], correct: Int(totals[1]), count: Int(totals[2]))
    }
}

/// Averages gradients over the ranks (each weighted by its share of the batch) before the base
/// optimizer's update; every rank must make the same sequence of updates.
final class AllreducingOptimizer: Optimizer {
    let base: Optimizer
    let world: MPIWorld
    let weight: Float
    private var buffer: [Float] = []

    init(base: Optimizer, world: MPIWorld, weight: Float) {
        (self.base, self.world, self.weight) = (base, world, weight)
    }

    var learningRate: Float {
        get { base.learningRate }
        set { base.learningRate = newValue }
    }

    var stateBytes: Int { base.stateBytes }

    func update(_ parameters: [Parameter], learningRate: Float) {
        let total = parameters.reduce(0) { $0 + $1.gradient.count }
        buffer.removeAll(keepingCapacity: true)
        buffer.reserveCapacity(total)
        for p in parameters { buffer += p.gradient.scalars }
        let w = weight
        buffer.withUnsafeMutableBufferPointer { b in
            for i in b.indices { b[i] *= w }
            world.allreduceSum(b)
        }
        var offset = 0
        for p in parameters {
            let count = p.gradient.count
            p.gradient.withUnsafeMutableBufferPointer { g in
                buffer.withUnsafeBufferPointer { b in g.baseAddress!.update(from: b.baseAddress! + offset, count: count) }
            }
            offset += count
        }
        base.update(parameters, learningRate: learningRate)
    }
}
