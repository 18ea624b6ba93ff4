/// A labelled batch: images [N, C, H, W] and N integer labels.
public struct Batch: Sendable {
    public var images: Tensor
    public var labels: [Int32]

    public init(images: Tensor, labels: [Int32]) {
        precondition(images.shape.first == labels.count, "batch of \(images.shape) images and \(labels.count) labels")
        self.images = images
        self.labels = labels
    }

    public var count: Int { labels.count }
}

/// What one training step reports.
public struct StepStatistics: Sendable {
    /// Mean loss over the batch (the rule's training objective at the output).
    public var loss: Float
    /// Samples whose training-mode prediction was right.
    public var correct: Int
    public var count: Int

    public init(loss: Float, correct: Int, count: Int) {
        self.loss = loss
        self.correct = correct
        self.count = count
    }
}

/// A learning rule: given the model and a batch, decides what signal each layer receives,
/// computes the parameter updates and applies them through the optimizer.
///
/// The training loop knows nothing rule-specific: everything a tool asks of a rule is here, with a
/// default where one is right for most rules. State the rule needs (feedback matrices, error
/// synapses, auxiliary heads) belongs to the rule; a rule is registered by its `RuleDescriptor`.
public protocol LearningRule: AnyObject {
    /// The name users know the rule by (`bp`, `fa`, …).
    var name: String { get }
    func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics

    /// Draws the rule's state for `model` (feedback matrices, heads, projections) in a fixed order;
    /// the trainer calls it before the first step, and calling it again changes nothing.
    /// Default: nothing to draw.
    func prepare(_ model: Model)
    /// nil when the rule can train `model`, else the reason it cannot. Default: any model.
    func unsupportedReason(for model: Model) -> String?

    /// MACs per training sample: forward, learning signal, weight update. No default: every rule
    /// states its own costs.
    func macsPerSample(_ model: Model) -> MACBreakdown
    /// Bytes of rule-owned state for `model`. Default: what `ownParameters` and `checkpointState` hold.
    func stateBytes(_ model: Model) -> Int

    /// Parameters the rule trains besides the model's (error synapses, modulations, heads), by name.
    func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)]
    /// Everything else the rule keeps (fixed matrices, generator states), by name, for checkpoints.
    func checkpointState(_ model: Model) -> [String: Safetensors.Entry]
    /// Restores what `checkpointState` saved (under `prefix` in `file`) for `model`.
    func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws

    /// nil when the rule's units can train as a pipeline of stages, else why not. Default: update locking.
    var pipelineRefusal: String? { get }
    /// nil when ranks can train it on shares of each batch (gradients averaged), else why not. Default: nil.
    var dataParallelRefusal: String? { get }

    /// Class scores for a batch of images — how the rule predicts. Default: the model's forward pass.
    func scores(model: Model, images: Tensor) -> Tensor
    /// The matrices the error signal travels through, for diagnostics (W ∠ B, the conservation law).
    /// Default: none.
    func feedbackView(_ model: Model) -> FeedbackView?
}

extension LearningRule {
    public func prepare(_ model: Model) {}
    public func unsupportedReason(for model: Model) -> String? { nil }
    public func stateBytes(_ model: Model) -> Int {
        ownParameters(model).reduce(0) { $0 + $1.parameter.value.count * MemoryLayout<Float>.size }
            + checkpointState(model).values.reduce(0) { $0 + $1.bytes.count }
    }
    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] { [] }
    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] { [:] }
    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {}
    public var pipelineRefusal: String? {
        "rule \(name) needs a backward pass from the output through every layer before any layer can update "
            + "(update locking); only unit-local rules can be pipelined"
    }
    public var dataParallelRefusal: String? { nil }
    public func scores(model: Model, images: Tensor) -> Tensor { model.forward(images, mode: .evaluation) }
    public func feedbackView(_ model: Model) -> FeedbackView? { nil }

    /// nil when this rule can train `model`, else the reason it cannot — the one check every command makes
    /// before it builds a rule on a model (train, compare, costs, experiments, bench).
    public func refusal(for model: Model) -> String? { unsupportedReason(for: model) }

    /// Throws `ModelError.unsupportedRule` when this rule cannot train `model`.
    public func checkCanTrain(_ model: Model) throws {
        if let reason = refusal(for: model) { throw ModelError.unsupportedRule(rule: name, model: model.spec, reason: reason) }
    }
}

/// Where every rule that learns from the output error starts: a training-mode forward pass and the
/// softmax cross-entropy, with its gradient ∂L/∂logits = (softmax − onehot)/N.
public struct OutputError {
    public let logits: Tensor
    public let loss: LossResult

    public init(model: Model, batch: Batch) {
        logits = model.forward(batch.images, mode: .training)
        loss = SoftmaxCrossEntropy()(logits, labels: batch.labels)
    }

    /// ∂L/∂logits.
    public var gradient: Tensor { loss.gradient }

    /// The step's loss and training accuracy.
    public func statistics(_ batch: Batch) -> StepStatistics {
        StepStatistics(loss: loss.loss, correct: loss.correct!, count: batch.count)
    }
}
