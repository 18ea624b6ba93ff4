/// Which rules can run as a pipeline of stages, and why the others cannot.
public enum PipelineSupport {
    /// nil when `rule` can be pipelined, else the reason it cannot.
    public static func unsupportedReason(_ rule: LearningRule) -> String? {
        if rule is any UnitLocalRule { return nil }
        switch rule {
        case is DirectFeedbackAlignment:
            return "DFA's hidden layers learn from the output error of the same batch, which a pipeline could deliver only "
                + "(stages − 1) batches late; delayed DFA is not supported"
        case is RecursiveLRA:
            return "rec-LRA builds every layer's target top-down from the output error of the same batch, so no stage can "
                + "update before the last has finished; not supported"
        default:
            return "rule \(rule.name) needs a backward pass from the output through every layer before any layer can update "
                + "(update locking); only lls, lls-m, lls-mxm, sll, dgl and auglocal can be pipelined"
        }
    }
}
