/// What a rule whose error signal passes through weighted layers (backprop through W, the FA
/// family through B) shows to diagnostics: the matrix each layer's error travels through, and how
/// far B is from W. The conservation law and the W ∠ B rows are measured from it; rules with no
/// such signal path (DFA, the local rules) have none.
public struct FeedbackView {
    /// B for `layer`, or nil where the signal goes through the layer's own W.
    public let feedback: (WeightedLayer) -> Tensor?
    /// Per weighted layer: the angle between W and B and ‖B‖/‖W‖ (empty for backprop).
    public let alignment: () -> [(layer: String, degrees: Double?, normRatio: Double)]

    public init(feedback: @escaping (WeightedLayer) -> Tensor?, alignment: @escaping () -> [(layer: String, degrees: Double?, normRatio: Double)]) {
        self.feedback = feedback
        self.alignment = alignment
    }
}
