/// End-to-end backpropagation of the softmax cross-entropy loss: the reference rule.
public final class Backprop: LearningRule {
    public init() {}

    public var name: String { "bp" }

    public func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics {
        let output = OutputError(model: model, batch: batch)
        model.backward(output.gradient)
        optimizer.update(model.parameters)
        return output.statistics(batch)
    }
}
