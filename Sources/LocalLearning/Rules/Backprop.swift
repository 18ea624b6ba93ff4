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

extension Backprop {
    /// Signal: the error sent back through every weighted layer but the first.
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        MACBreakdown(forward: model.forwardMACs, signal: model.errorPropagationMACs, update: model.weightGradientMACs)
    }

    public func stateBytes(_ model: Model) -> Int { 0 }

    /// Every error travels through W.
    public func feedbackView(_ model: Model) -> FeedbackView? { FeedbackView(feedback: { _ in nil }, alignment: { [] }) }
}

extension Backprop {
    public static var descriptor: RuleDescriptor {
        RuleDescriptor(name: "bp", summary: "end-to-end backpropagation, the reference", defaults: ()) { _, _ in Backprop() }
    }
}
