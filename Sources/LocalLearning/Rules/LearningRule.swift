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
/// The training loop knows nothing rule-specific. State the rule needs (feedback matrices, error
/// synapses, auxiliary heads) belongs to the rule.
public protocol LearningRule: AnyObject {
    /// The name users know the rule by (`bp`, `fa`, …).
    var name: String { get }
    func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics
}

/// Rules that cannot train every model say why (e.g. a local rule on a model with no hidden block).
public protocol ModelRequirements {
    /// nil when the rule can train `model`, else the reason it cannot.
    func unsupportedReason(for model: Model) -> String?
}

extension LearningRule {
    /// nil when this rule can train `model`, else why not — the one check every command makes
    /// before it builds a rule on a model (train, compare, costs, experiments, bench).
    public func refusal(for model: Model) -> String? { (self as? ModelRequirements)?.unsupportedReason(for: model) }

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
