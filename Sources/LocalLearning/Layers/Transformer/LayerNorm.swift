/// Layer normalisation over the last dimension (Ba et al. 2016): each row x of D features becomes
/// y = γ ⊙ (x − μ)/√(σ² + ε) + β, with μ and σ² the row's mean and biased variance. Any input
/// [N, …, D]; γ starts at 1, β at 0; ε = 1e-5 (PyTorch's default).
///
/// Backward per row, with x̂ = (x − μ)/σ and g = γ ⊙ dy:
/// dx = (g − mean(g) − x̂ · mean(g ⊙ x̂)) / σ, dγ = Σ_rows dy ⊙ x̂, dβ = Σ_rows dy.
public final class LayerNorm: Layer {
    public let features: Int
    public let epsilon: Float
    public let scale: Parameter
    public let shift: Parameter
    /// x̂ and 1/σ per row, kept by a training forward.
    private var normalised = Tensor(shape: [0])
    private var inverseDeviations: [Float] = []

    public init(features: Int, epsilon: Float = 1e-5) {
        precondition(features > 0, "LayerNorm needs at least one feature")
        self.features = features
        self.epsilon = epsilon
        scale = Parameter(name: "scale", value: Tensor(shape: [features], repeating: 1))
        shift = Parameter(name: "shift", value: Tensor(shape: [features]))
    }

    public var summary: String { "LayerNorm(\(features))" }
    public var parameters: [Parameter] { [scale, shift] }
    public var heldBuffers: [HeldBuffer] { [normalised.heldBuffer, inverseDeviations.heldBuffer].compactMap { $0 } }
    public func releaseHeld() {
        normalised = Tensor(shape: [0])
        inverseDeviations = []
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.last == features else {
            throw ModelError.shapeMismatch(layer: summary, expected: "[…, \(features)]", got: inputShape)
        }
        return inputShape
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition(input.count % features == 0, "\(summary) got input \(input.shape)")
        let d = features, rows = input.count / d, epsilon = epsilon
        var xhat = Tensor(shape: input.shape)
        var inverse = [Float](repeating: 0, count: rows)
        let y = Tensor(uninitializedShape: input.shape) { y in
            input.withUnsafeBufferPointer { x in
                xhat.withUnsafeMutableBufferPointer { h in
                    inverse.withUnsafeMutableBufferPointer { inv in
                        scale.value.withUnsafeBufferPointer { g in
                            shift.value.withUnsafeBufferPointer { b in
                                Parallel.forRanges(rows, costPerItem: 6 * d) { range in
                                    for r in range {
                                        let row = x.baseAddress! + r * d, out = h.baseAddress! + r * d
                                        // Two passes about a provisional mean (the first element) keep the variance exact for large offsets.
                                        let (s, q) = VectorMath.shiftedSums(row, count: d, shift: row[0])
                                        let meanShift = s / Float(d)
                                        let variance = max(0, q / Float(d) - meanShift * meanShift)
                                        let mean = row[0] + meanShift, invStd = 1 / (variance + epsilon).squareRoot()
                                        inv[r] = invStd
                                        let yr = y.baseAddress! + r * d
                                        for j in 0..<d {
                                            let n = (row[j] - mean) * invStd
                                            out[j] = n
                                            yr[j] = n * g[j] + b[j]
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if mode.keepsForBackward {
            normalised = xhat
            inverseDeviations = inverse
        }
        return y
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        precondition(outputGradient.shape == normalised.shape, "\(summary): backward without a matching training forward")
        let d = features, rows = outputGradient.count / d
        outputGradient.withUnsafeBufferPointer { dy in
            normalised.withUnsafeBufferPointer { h in
                scale.gradient.withUnsafeMutableBufferPointer { dg in
                    shift.gradient.withUnsafeMutableBufferPointer { db in
                        dg.update(repeating: 0)
                        db.update(repeating: 0)
                        for r in 0..<rows {
                            let g = dy.baseAddress! + r * d, n = h.baseAddress! + r * d
                            for j in 0..<d {
                                dg[j] += g[j] * n[j]
                                db[j] += g[j]
                            }
                        }
                    }
                }
            }
        }
        guard propagate else { return nil }
        return Tensor(uninitializedShape: outputGradient.shape) { dx in
            outputGradient.withUnsafeBufferPointer { dy in
                normalised.withUnsafeBufferPointer { h in
                    scale.value.withUnsafeBufferPointer { gamma in
                        inverseDeviations.withUnsafeBufferPointer { inv in
                            Parallel.forRanges(rows, costPerItem: 6 * d) { range in
                                for r in range {
                                    let g = dy.baseAddress! + r * d, n = h.baseAddress! + r * d, out = dx.baseAddress! + r * d
                                    // out holds γ ⊙ dy first, then the result.
                                    for j in 0..<d { out[j] = g[j] * gamma[j] }
                                    let meanG = VectorMath.sum(out, count: d) / Float(d)
                                    let meanGN = VectorMath.dot(out, n, count: d) / Float(d)
                                    let invStd = inv[r]
                                    for j in 0..<d { out[j] = (out[j] - meanG - n[j] * meanGN) * invStd }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
