/// Batch normalisation over [N, C] (1-d) or [N, C, H, W] (2-d) inputs, per channel C.
///
/// Training: y = γ·(x − μ_B)/√(σ²_B + ε) + β with the batch's biased variance; the running statistics
/// move by `momentum` toward μ_B and the unbiased batch variance (PyTorch's convention).
/// Evaluation uses the running statistics. γ starts at 1, β at 0.
public final class BatchNorm: Layer {
    public let channels: Int
    public let epsilon: Float
    public let momentum: Float
    public let scale: Parameter        // γ
    public let shift: Parameter        // β
    public private(set) var runningMean: Tensor
    public private(set) var runningVariance: Tensor
    private var input = Tensor(shape: [0])           // x of the last training forward
    private var mean: [Float] = []
    private var inverseStd: [Float] = []
    private var lastMode: Mode = .evaluation

    public var heldBuffers: [HeldBuffer] { [input.heldBuffer, mean.heldBuffer, inverseStd.heldBuffer].compactMap { $0 } }
    public func releaseHeld() {
        input = Tensor(shape: [0])
        mean = []
        inverseStd = []
    }

    public init(channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) {
        self.channels = channels
        self.epsilon = epsilon
        self.momentum = momentum
        scale = Parameter(name: "weight", value: Tensor(shape: [channels], repeating: 1))
        shift = Parameter(name: "bias", value: Tensor(shape: [channels], repeating: 0))
        runningMean = Tensor(shape: [channels], repeating: 0)
        runningVariance = Tensor(shape: [channels], repeating: 1)
    }

    public var summary: String { "BatchNorm(\(channels))" }

    /// The running mean and variance used in evaluation (settable, e.g. to restore or load them).
    public var runningStatistics: (mean: Tensor, variance: Tensor) {
        get { (runningMean, runningVariance) }
        set {
            precondition(newValue.mean.shape == [channels] && newValue.variance.shape == [channels],
                         "\(summary): running statistics must have \(channels) channels")
            (runningMean, runningVariance) = newValue
        }
    }
    public var parameters: [Parameter] { [scale, shift] }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard (inputShape.count == 1 || inputShape.count == 3), inputShape[0] == channels else {
            throw ModelError.shapeMismatch(layer: summary, expected: "[\(channels)] or [\(channels), H, W]", got: inputShape)
        }
        return inputShape
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition((input.rank == 2 || input.rank == 4) && input.shape[1] == channels, "\(summary) got input \(input.shape)")
        let batch = input.shape[0], spatial = input.count / (batch * channels), C = channels
        let m = Float(batch * spatial)
        var mean = [Float](repeating: 0, count: C), invStd = [Float](repeating: 0, count: C)
        if mode == .training {
            precondition(batch * spatial > 1, "\(summary): training needs more than one value per channel, got input \(input.shape)")
            var variance = [Float](repeating: 0, count: C)
            input.withUnsafeBufferPointer { x in
                mean.withUnsafeMutableBufferPointer { meanOut in
                    variance.withUnsafeMutableBufferPointer { varianceOut in
                        Parallel.forRanges(C, costPerItem: batch * spatial) { range in
                            for c in range {
                                // One pass over data shifted by the channel's first value: stable for
                                // |mean| ≫ std, unlike the raw E[x²] − E[x]².
                                let shift = x[c * spatial]
                                var sum: Float = 0, squares: Float = 0
                                for n in 0..<batch {
                                    let (s, q) = VectorMath.shiftedSums(x.baseAddress! + (n * C + c) * spatial, count: spatial, shift: shift)
                                    sum += s
                                    squares += q
                                }
                                let meanShifted = sum / m
                                meanOut[c] = shift + meanShifted
                                varianceOut[c] = max(squares / m - meanShifted * meanShifted, 0)
                            }
                        }
                    }
                }
            }
            for c in 0..<C {
                invStd[c] = 1 / (variance[c] + epsilon).squareRoot()
                runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c]
                runningVariance[c] = (1 - momentum) * runningVariance[c] + momentum * variance[c] * m / (m - 1)
            }
        } else {
            for c in 0..<C {
                mean[c] = runningMean[c]
                invStd[c] = 1 / (runningVariance[c] + epsilon).squareRoot()
            }
        }
        lastMode = mode
        inverseStd = invStd
        let gamma = scale.value.scalars, beta = shift.value.scalars
        // y = γ·(x − μ)/σ + β; training keeps x, μ and 1/σ, from which backward recomputes x̂.
        let y = Tensor(uninitializedShape: input.shape) { y in
            input.withUnsafeBufferPointer { x in
                Parallel.forRanges(batch * C, costPerItem: spatial) { planes in
                    for plane in planes {
                        let c = plane % C, offset = plane * spatial
                        let a = invStd[c] * gamma[c], b = beta[c] - mean[c] * a
                        let xPlane = x.baseAddress! + offset, yPlane = y.baseAddress! + offset
                        for i in 0..<spatial { yPlane[i] = xPlane[i] * a + b }
                    }
                }
            }
        }
        if mode.keepsForBackward {
            self.input = input
            self.mean = mean
        } else {
            self.input = Tensor(shape: [0])
        }
        return y
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        let batch = outputGradient.shape[0], C = channels, spatial = outputGradient.count / (batch * C)
        let gamma = scale.value.scalars, invStd = inverseStd, mean = self.mean
        precondition(lastMode.keepsForBackward, "\(summary): backward needs a training-mode or frozen forward")
        precondition(input.shape == outputGradient.shape, "\(summary): backward without a matching training forward")
        if lastMode == .frozen {
            // Running statistics are constants: y = γ·(x − μ)/σ + β is affine, dx = γ/σ·dy.
            guard propagate else { return nil }
            return Tensor(uninitializedShape: outputGradient.shape) { dx in
                outputGradient.withUnsafeBufferPointer { dy in
                    for plane in 0..<(batch * C) {
                        let k = gamma[plane % C] * invStd[plane % C], offset = plane * spatial
                        let dyPlane = dy.baseAddress! + offset, dxPlane = dx.baseAddress! + offset
                        for i in 0..<spatial { dxPlane[i] = k * dyPlane[i] }
                    }
                }
            }
        }
        let m = Float(batch * spatial)
        var dGamma = [Float](repeating: 0, count: C), dBeta = [Float](repeating: 0, count: C)
        outputGradient.withUnsafeBufferPointer { dy in
            input.withUnsafeBufferPointer { x in
                dGamma.withUnsafeMutableBufferPointer { dGamma in
                    dBeta.withUnsafeMutableBufferPointer { dBeta in
                        Parallel.forRanges(C, costPerItem: 2 * batch * spatial) { range in
                            for c in range {
                                // Σ dy·x̂ = (Σ dy·x − μ·Σ dy)/σ
                                var sum: Float = 0, dot: Float = 0
                                for n in 0..<batch {
                                    let offset = (n * C + c) * spatial
                                    let (s, d) = VectorMath.sumAndDot(dy.baseAddress! + offset, x.baseAddress! + offset, count: spatial)
                                    sum += s
                                    dot += d
                                }
                                dBeta[c] = sum
                                dGamma[c] = (dot - mean[c] * sum) * invStd[c]
                            }
                        }
                    }
                }
            }
        }
        scale.gradient = Tensor(shape: [C], scalars: dGamma)
        shift.gradient = Tensor(shape: [C], scalars: dBeta)
        guard propagate else { return nil }
        // dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂))
        return Tensor(uninitializedShape: outputGradient.shape) { dx in
            outputGradient.withUnsafeBufferPointer { dy in
                input.withUnsafeBufferPointer { x in
                    Parallel.forRanges(batch * C, costPerItem: spatial) { planes in
                        for plane in planes {
                            let c = plane % C, offset = plane * spatial
                            // dx = k·dy + b·(x − μ) + c, with k = γ/σ, b = −k·mean(dy·x̂)/σ, c = −k·mean(dy)
                            let k = gamma[c] * invStd[c], mu = mean[c]
                            let b = -k * invStd[c] * (dGamma[c] / m), shift = -k * (dBeta[c] / m)
                            let dyPlane = dy.baseAddress! + offset, xPlane = x.baseAddress! + offset
                            let dxPlane = dx.baseAddress! + offset
                            for i in 0..<spatial {
                                dxPlane[i] = k * dyPlane[i] + b * (xPlane[i] - mu) + shift
                            }
                        }
                    }
                }
            }
        }
    }
}
