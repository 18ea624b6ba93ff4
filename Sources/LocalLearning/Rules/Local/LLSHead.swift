/// One block's LLS learning signal: the block's activation a is average-pooled, L2-normalised per
/// sample, projected onto the fixed class basis B and divided by the temperature T; the softmax
/// cross-entropy of those logits against the label is the block's local loss.
///
/// - Pooling: a per-sample [C, H, W] activation is adaptively average-pooled to s×s and flattened
///   channel-major (D = C·s²); a [F] activation is adaptively pooled along its features to s (D = s;
///   s = F is the identity). PyTorch's adaptive windows, so they overlap or repeat when s does not divide.
/// - x̂ = u / max(‖u‖, 1e-12) (x̂ = u for the `random` basis, as the reference's LLS_Random); z = x̂·Bᵀ; logits = z/T (LLS), m ⊙ z/T (LLS-M, learned m ∈ R^C),
///   or z·M/T (LLS-MxM, learned M ∈ R^{C×C}); m and M start at 0.01·N(0, 1).
public final class LLSHead {
    public enum Modulation: String, Sendable, CaseIterable {
        case none, vector, matrix
    }

    public let basis: Tensor
    public let temperature: Float
    public let modulation: Modulation
    /// m ([C]) or M ([C, C]); nil for plain LLS.
    public let modulationParameter: Parameter?
    /// Pooled feature count D.
    public let features: Int
    private let pool: AdaptiveAvgPool2D?
    private let activationShape: [Int]
    /// L2-normalise the pooled features before the projection.
    private let normalises: Bool

    /// `activationShape` is per sample: [C, H, W] or [F]. `poolSize` is s.
    public init(activationShape: [Int], classes: Int, poolSize: Int, basis kind: ClassBasis, temperature: Float = 0.5,
                modulation: Modulation = .none, seed: UInt64 = 1) {
        precondition(activationShape.count == 3 || activationShape.count == 1, "LLS needs a [C, H, W] or [F] activation, got \(activationShape)")
        precondition(poolSize > 0 && temperature > 0, "LLS needs a positive pool size and temperature")
        self.activationShape = activationShape
        self.temperature = temperature
        self.modulation = modulation
        if activationShape.count == 3 {
            pool = AdaptiveAvgPool2D(poolSize)
            features = activationShape[0] * poolSize * poolSize
        } else {
            pool = poolSize == activationShape[0] ? nil : AdaptiveAvgPool2D(outputHeight: 1, outputWidth: poolSize)
            features = poolSize
        }
        basis = kind.matrix(classes: classes, features: features, seed: seed)
        normalises = kind.normalisesFeatures
        var rng = SeededGenerator(seed: seed ^ 0x4D0D)
        switch modulation {
        case .none: modulationParameter = nil
        case .vector: modulationParameter = Parameter(name: "lls_m", value: Tensor(shape: [classes]).mapped { _ in 0.01 * rng.nextNormal() })
        case .matrix: modulationParameter = Parameter(name: "lls_M", value: Tensor(shape: [classes, classes]).mapped { _ in 0.01 * rng.nextNormal() })
        }
    }

    public var classes: Int { basis.shape[0] }
    public var parameters: [Parameter] { modulationParameter.map { [$0] } ?? [] }

    /// The block's local loss on `activation` ([N] + any shape of activationShape's size) and
    /// ∂loss/∂activation (of the activation's shape); writes the modulation parameter's gradient.
    public func lossAndGradient(_ input: Tensor, labels: [Int32]) -> LossResult {
        let batch = input.shape[0]
        precondition(input.count == batch * activationShape.reduce(1, *), "LLS head for \(activationShape) got \(input.shape)")
        let activation = input.reshaped([batch] + activationShape)
        let pooled: Tensor
        if let pool {
            let planar = activationShape.count == 3 ? activation : activation.reshaped([batch, 1, 1, activationShape[0]])
            pooled = pool.forward(planar, mode: .training).reshaped([batch, features])
        } else {
            pooled = activation.reshaped([batch, features])
        }
        let (normalised, norms) = normalises ? Self.normalisedRows(pooled) : (pooled, [])
        let projection = BLAS.matmul(normalised, basis, transposeB: true)           // [N, C]
        let t = temperature
        var logits: Tensor
        switch modulation {
        case .none: logits = projection.mapped { $0 / t }
        case .vector: logits = Self.scaledColumns(projection, by: modulationParameter!.value, divisor: t)
        case .matrix: logits = BLAS.matmul(projection, modulationParameter!.value).mapped { $0 / t }
        }
        let result = SoftmaxCrossEntropy()(logits, labels: labels)
        let gLogits = result.gradient
        let gProjection: Tensor
        switch modulation {
        case .none:
            gProjection = gLogits.mapped { $0 / t }
        case .vector:
            let m = modulationParameter!
            m.gradient = Self.columnSums(Tensor.zip(gLogits, projection) { $0 * $1 / t })
            gProjection = Self.scaledColumns(gLogits, by: m.value, divisor: t)
        case .matrix:
            let mm = modulationParameter!
            mm.gradient = BLAS.matmul(projection, gLogits, transposeA: true).mapped { $0 / t }
            gProjection = BLAS.matmul(gLogits, mm.value, transposeB: true).mapped { $0 / t }
        }
        let gNormalised = BLAS.matmul(gProjection, basis)                            // [N, D]
        let gPooled = normalises ? Self.normalisationBackward(gNormalised, normalised: normalised, norms: norms) : gNormalised
        let gActivation: Tensor
        if let pool {
            let channels = activationShape.count == 3 ? activationShape[0] : 1
            let planarShape = [batch, channels, pool.outputHeight, pool.outputWidth]
            gActivation = pool.backward(gPooled.reshaped(planarShape), propagate: true)!.reshaped(input.shape)
        } else {
            gActivation = gPooled.reshaped(input.shape)
        }
        return LossResult(loss: result.loss, gradient: gActivation, correct: result.correct)
    }

    /// Each row divided by max(‖row‖, 1e-12); returns the rows and those divisors.
    static func normalisedRows(_ x: Tensor) -> (Tensor, [Float]) {
        let (rows, width) = (x.shape[0], x.shape[1])
        var norms = [Float](repeating: 0, count: rows)
        let y = Tensor(uninitializedShape: x.shape) { out in
            x.withUnsafeBufferPointer { p in
                for r in 0..<rows {
                    let row = p.baseAddress! + r * width
                    let norm = max(VectorMath.dot(row, row, count: width).squareRoot(), 1e-12)
                    norms[r] = norm
                    for i in 0..<width { out[r * width + i] = row[i] / norm }
                }
            }
        }
        return (y, norms)
    }

    /// ∂L/∂u from ∂L/∂x̂ for x̂ = u / max(‖u‖, ε): (g − x̂ (x̂·g)) / ‖u‖, or g/ε where the norm was clamped.
    static func normalisationBackward(_ g: Tensor, normalised: Tensor, norms: [Float]) -> Tensor {
        let width = g.shape[1]
        return Tensor(uninitializedShape: g.shape) { out in
            g.withUnsafeBufferPointer { gp in
                normalised.withUnsafeBufferPointer { xp in
                    for r in 0..<norms.count {
                        let gr = gp.baseAddress! + r * width, xr = xp.baseAddress! + r * width
                        let clamped = norms[r] <= 1e-12
                        let projection = clamped ? 0 : VectorMath.dot(xr, gr, count: width)
                        let inverse = 1 / norms[r]
                        for i in 0..<width { out[r * width + i] = (gr[i] - xr[i] * projection) * inverse }
                    }
                }
            }
        }
    }

    /// x[n, k] · v[k] / divisor.
    static func scaledColumns(_ x: Tensor, by v: Tensor, divisor: Float) -> Tensor {
        let width = x.shape[1]
        return Tensor(uninitializedShape: x.shape) { out in
            x.withUnsafeBufferPointer { p in
                v.withUnsafeBufferPointer { vp in
                    for i in 0..<out.count { out[i] = p[i] * vp[i % width] / divisor }
                }
            }
        }
    }

    /// Σ_n x[n, k].
    static func columnSums(_ x: Tensor) -> Tensor {
        let (rows, width) = (x.shape[0], x.shape[1])
        return Tensor(uninitializedShape: [width]) { out in
            x.withUnsafeBufferPointer { p in
                for k in 0..<width {
                    var s: Float = 0
                    for r in 0..<rows { s += p[r * width + k] }
                    out[k] = s
                }
            }
        }
    }
}
