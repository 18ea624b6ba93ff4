/// A finished pipelined step: its batch index, statistics, and the first block a stage found with
/// non-finite weights, if any.
public struct PipelineResult: Sendable {
    public var index: Int
    public var statistics: StepStatistics
    public var brokenBlock: String?

    public init(index: Int, statistics: StepStatistics, brokenBlock: String?) {
        self.index = index
        self.statistics = statistics
        self.brokenBlock = brokenBlock
    }
}

/// Stages of a unit-local rule's step that work on consecutive batches at once — threads in one
/// process (`PipelinedTraining`) or MPI ranks. Batches go in and results come out in order.
public protocol StagePipeline: AnyObject {
    func start()
    /// Hands batch `index` to the first stage. Call in batch order.
    func submit(_ batch: Batch, index: Int, learningRate: Float)
    /// The next finished step if one is ready.
    func pollResult() -> PipelineResult?
    /// The next finished step, waiting for it.
    func nextResult() -> PipelineResult
    /// Lets the stages finish what was submitted and stops them; afterwards the whole model is up to
    /// date in this process (for evaluation and checkpoints).
    func finish()
}
