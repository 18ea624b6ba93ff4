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
    private var normalized = Tensor(shape: [0])      // x̂ of the last training forward
    private var inverseStd: [Float] = []
    private var lastMode: Mode = .evaluation

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
                        Parallel.forRanges(C, costPerItem: 2 * batch * spatial) { range in
                            for c in range {
                                var s: Float = 0
                                for n in 0..<batch { s += VectorMath.sum(x.baseAddress! + (n * C + c) * spatial, count: spatial) }
                                let mu = s / m
                                var q: Float = 0
                                for n in 0..<batch {
                                    q += VectorMath.sumOfSquaredDeviations(x.baseAddress! + (n * C + c) * spatial, count: spatial, from: mu)
                                }
                                meanOut[c] = mu
                                varianceOut[c] = q / m
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
        // y = γ·x̂ + β with x̂ = (x − μ)/σ; x̂ is kept for backward in training.
        let training = mode == .training
        var xhat = Tensor(shape: training ? input.shape : [0])
        let y = Tensor(uninitializedShape: input.shape) { y in
            input.withUnsafeBufferPointer { x in
                xhat.withUnsafeMutableBufferPointer { xh in
                    Parallel.forRanges(batch * C, costPerItem: spatial) { planes in
                        for plane in planes {
                            let c = plane % C, offset = plane * spatial
                            let mu = mean[c], s = invStd[c], g = gamma[c], b = beta[c]
                            if training {
                                for i in 0..<spatial {
                                    let v = (x[offset + i] - mu) * s
                                    xh[offset + i] = v
                                    y[offset + i] = v * g + b
                                }
                            } else {
                                for i in 0..<spatial { y[offset + i] = (x[offset + i] - mu) * s * g + b }
                            }
                        }
                    }
                }
            }
        }
        normalized = xhat
        return y
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        let batch = outputGradient.shape[0], C = channels, spatial = outputGradient.count / (batch * C)
        let gamma = scale.value.scalars, invStd = inverseStd
        precondition(lastMode == .training, "\(summary): backward needs a training-mode forward")
        precondition(normalized.shape == outputGradient.shape, "\(summary): backward without a matching training forward")
        let m = Float(batch * spatial)
        var dGamma = [Float](repeating: 0, count: C), dBeta = [Float](repeating: 0, count: C)
        outputGradient.withUnsafeBufferPointer { dy in
            normalized.withUnsafeBufferPointer { xh in
                dGamma.withUnsafeMutableBufferPointer { dGamma in
                    dBeta.withUnsafeMutableBufferPointer { dBeta in
                        Parallel.forRanges(C, costPerItem: 2 * batch * spatial) { range in
                            for c in range {
                                var sum: Float = 0, dot: Float = 0
                                for n in 0..<batch {
                                    let offset = (n * C + c) * spatial
                                    sum += VectorMath.sum(dy.baseAddress! + offset, count: spatial)
                                    dot += VectorMath.dot(dy.baseAddress! + offset, xh.baseAddress! + offset, count: spatial)
                                }
                                dBeta[c] = sum
                                dGamma[c] = dot
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
                normalized.withUnsafeBufferPointer { xh in
                    Parallel.forRanges(batch * C, costPerItem: spatial) { planes in
                        for plane in planes {
                            let c = plane % C, offset = plane * spatial
                            let k = gamma[c] * invStd[c]
                            let meanDy = dBeta[c] / m, meanDyXhat = dGamma[c] / m
                            for i in 0..<spatial {
                                dx[offset + i] = k * (dy[offset + i] - meanDy - xh[offset + i] * meanDyXhat)
                            }
                        }
                    }
                }
            }
        }
    }
}
