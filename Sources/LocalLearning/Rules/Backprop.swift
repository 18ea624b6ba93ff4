/// End-to-end backpropagation of the softmax cross-entropy loss: the reference rule.
public final class Backprop: LearningRule {
    private let loss = SoftmaxCrossEntropy()

    public init() {}

    public var name: String { "bp" }

    public func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics {
        let logits = model.forward(batch.images, mode: .training)
        let result = loss(logits, labels: batch.labels)
        model.backward(result.gradient)
        optimizer.update(model.parameters)
        return StepStatistics(loss: result.loss,
                              correct: SoftmaxCrossEntropy.correctCount(logits, labels: batch.labels),
                              count: batch.count)
    }
}
