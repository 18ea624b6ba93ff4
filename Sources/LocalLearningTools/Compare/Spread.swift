import LocalLearning

/// Mean and sample standard deviation of some runs' figures (the deviation is 0 for one value).
public struct Spread: Sendable, Equatable {
    public var mean: Double
    public var deviation: Double

    /// nil for no values.
    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        self.mean = mean
        deviation = values.count > 1
            ? (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot() : 0
    }
}
