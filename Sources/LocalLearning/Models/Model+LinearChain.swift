extension Model {
    /// The Linear layer of every block when the model is a chain of fully connected blocks —
    /// [Flatten] Linear [activation], the last a Linear classifier — else why not. Rules that run
    /// their own passes through such a network (PEPITA, Forward-Forward) read it here.
    public var linearChain: Result<[Linear], ModelError> {
        var linears: [Linear] = []
        for block in blocks {
            let kinds = block.layers.map { layer -> Character in
                switch layer {
                case is Flatten: "f"
                case is Linear: "w"
                case is Activation: "a"
                default: "?"
                }
            }
            guard ["w", "wa", "fw", "fwa"].contains(String(kinds)) else {
                return .failure(.invalidSpec(spec: spec, reason: "block \(block.name) is " + block.layers.map(\.summary).joined(separator: " → ")
                                             + "; expected fully connected blocks [Flatten] Linear [activation] (no BatchNorm, dropout or convolution)"))
            }
            linears.append(block.layers.first { $0 is Linear } as! Linear)
        }
        return .success(linears)
    }
}
