/// Per-channel standardisation x ← (x − μ_c)/σ_c, with μ and σ measured on a training set and
/// applied unchanged to its test set.
public struct Standardization: Sendable, Equatable, Codable {
    public var mean: [Float]
    public var standardDeviation: [Float]

    /// Measures each channel's mean and (population) standard deviation over `dataset`.
    public init(measuring dataset: Dataset) {
        let (n, c) = (dataset.count, dataset.sampleShape[0])
        let plane = dataset.sampleShape.dropFirst().reduce(1, *)
        var sums = [Double](repeating: 0, count: c), squares = [Double](repeating: 0, count: c)
        dataset.images.withUnsafeBufferPointer { x in
            for i in 0..<n {
                for k in 0..<c {
                    let (s, q) = VectorMath.shiftedSums(x.baseAddress! + (i * c + k) * plane, count: plane, shift: 0)
                    sums[k] += Double(s)
                    squares[k] += Double(q)
                }
            }
        }
        let count = Double(n * plane)
        mean = sums.map { Float($0 / count) }
        standardDeviation = zip(sums, squares).map { s, q in Float(max(q / count - (s / count) * (s / count), 1e-12).squareRoot()) }
    }

    public init(mean: [Float], standardDeviation: [Float]) {
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// `dataset` with every channel standardised.
    public func apply(to dataset: Dataset) -> Dataset {
        let c = dataset.sampleShape[0], plane = dataset.sampleShape.dropFirst().reduce(1, *)
        precondition(c == mean.count, "standardisation for \(mean.count) channels applied to \(c)")
        var out = dataset
        out.images.withUnsafeMutableBufferPointer { x in
            for i in 0..<dataset.count {
                for k in 0..<c {
                    let p = x.baseAddress! + (i * c + k) * plane, mu = mean[k], inv = 1 / standardDeviation[k]
                    for j in 0..<plane { p[j] = (p[j] - mu) * inv }
                }
            }
        }
        return out
    }
}
