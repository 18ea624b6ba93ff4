/// Multi-head scaled dot-product attention (Vaswani et al. 2017, Eq. 1) on projected queries, keys
/// and values: input [T, 3D] — each token's q, k, v side by side, as the fused QKV `Linear(D → 3D)`
/// before it writes them — output [T, D], the heads' outputs side by side (the output projection
/// `Linear(D → D)` follows). For head h with q_h, k_h, v_h of width d = D/H:
///
///     P_h = softmax(q_h k_hᵀ / √d)  (row-wise, the row maximum subtracted first),   o_h = P_h v_h.
///
/// The projections are ordinary `Linear` layers, so a rule that replaces weight transposes (FA)
/// reaches them; this layer has no weights and its backward is exact:
///
///     dv_h = P_hᵀ do_h,   dP_h = do_h v_hᵀ,   dS_h = P_h ⊙ (dP_h − rowsum(dP_h ⊙ P_h)),
///     dq_h = dS_h k_h / √d,   dk_h = dS_hᵀ q_h / √d.
///
/// With `causal`, token i attends to tokens j ≤ i only (P is zero above the diagonal). Every product
/// is one BLAS call per sample and head on strided sub-matrices; P is kept for backward.
public final class SelfAttention: Layer {
    public let dimension: Int
    public let heads: Int
    public let causal: Bool
    private var input = Tensor(shape: [0])
    private var probabilities = Tensor(shape: [0])
    private let scratch = Workspace()

    public init(dimension: Int, heads: Int, causal: Bool = false) {
        precondition(heads > 0 && dimension > 0 && dimension % heads == 0, "the width \(dimension) must split into \(heads) heads")
        self.dimension = dimension
        self.heads = heads
        self.causal = causal
    }

    public var headWidth: Int { dimension / heads }
    public var summary: String { "SelfAttention(\(dimension), \(heads) heads\(causal ? ", causal" : ""))" }

    public var heldBuffers: [HeldBuffer] { [input.heldBuffer, probabilities.heldBuffer, scratch.heldBuffer].compactMap { $0 } }
    public func releaseHeld() {
        input = Tensor(shape: [0])
        probabilities = Tensor(shape: [0])
        scratch.release()
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 2, inputShape[0] > 0, inputShape[1] == 3 * dimension else {
            throw ModelError.shapeMismatch(layer: summary, expected: "queries, keys and values [T, \(3 * dimension)]", got: inputShape)
        }
        return [inputShape[0], dimension]
    }

    /// Row-wise softmax of a T×T score matrix in place (only j ≤ i when causal).
    private func softmaxRows(_ s: UnsafeMutablePointer<Float>, tokens t: Int) {
        for i in 0..<t {
            let row = s + i * t, valid = causal ? i + 1 : t
            var maximum = row[0]
            for j in 1..<max(valid, 1) where row[j] > maximum { maximum = row[j] }
            for j in 0..<valid { row[j] -= maximum }
            VectorMath.exp(row, row, count: valid)
            let inverse = 1 / VectorMath.sum(row, count: valid)
            for j in 0..<valid { row[j] *= inverse }
            if valid < t { (row + valid).update(repeating: 0, count: t - valid) }
        }
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition(input.rank == 3 && input.shape[2] == 3 * dimension, "\(summary) got input \(input.shape)")
        let (n, t, d, h, w) = (input.shape[0], input.shape[1], dimension, heads, headWidth)
        let scale = 1 / Float(w).squareRoot()
        var p = Tensor(shape: [n, h, t, t])
        let output = Tensor(uninitializedShape: [n, t, d]) { out in
            input.withUnsafeBufferPointer { x in
                p.withUnsafeMutableBufferPointer { p in
                    for sample in 0..<n {
                        let qkv = x.baseAddress! + sample * t * 3 * d
                        for head in 0..<h {
                            let q = qkv + head * w, k = q + d, v = q + 2 * d
                            let scores = p.baseAddress! + (sample * h + head) * t * t
                            BLAS.gemm(transposeB: true, m: t, n: t, k: w, alpha: scale, a: q, lda: 3 * d, b: k, ldb: 3 * d, c: scores, ldc: t)
                            softmaxRows(scores, tokens: t)
                            BLAS.gemm(m: t, n: w, k: t, a: scores, lda: t, b: v, ldb: 3 * d,
                                      c: out.baseAddress! + sample * t * d + head * w, ldc: d)
                        }
                    }
                }
            }
        }
        if mode.keepsForBackward {
            self.input = input
            probabilities = p
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        guard propagate else { return nil }
        precondition(input.count > 0, "\(summary): backward without a training forward")
        let (n, t, d, h, w) = (input.shape[0], input.shape[1], dimension, heads, headWidth)
        precondition(outputGradient.shape == [n, t, d], "\(summary) got gradient \(outputGradient.shape)")
        let scale = 1 / Float(w).squareRoot()
        let dScores = scratch.buffer(t * t)
        return Tensor(uninitializedShape: input.shape) { dx in
            input.withUnsafeBufferPointer { x in
                probabilities.withUnsafeBufferPointer { p in
                    outputGradient.withUnsafeBufferPointer { dy in
                        for sample in 0..<n {
                            let qkv = x.baseAddress! + sample * t * 3 * d, dqkv = dx.baseAddress! + sample * t * 3 * d
                            for head in 0..<h {
                                let q = qkv + head * w, k = q + d, v = q + 2 * d
                                let dq = dqkv + head * w, dk = dq + d, dv = dq + 2 * d
                                let probs = p.baseAddress! + (sample * h + head) * t * t
                                let dOut = dy.baseAddress! + sample * t * d + head * w
                                BLAS.gemm(transposeA: true, m: t, n: w, k: t, a: probs, lda: t, b: dOut, ldb: d, c: dv, ldc: 3 * d)
                                BLAS.gemm(transposeB: true, m: t, n: t, k: w, a: dOut, lda: d, b: v, ldb: 3 * d, c: dScores, ldc: t)
                                for i in 0..<t {
                                    let pr = probs + i * t, gr = dScores + i * t
                                    let centre = VectorMath.dot(pr, gr, count: t)
                                    for j in 0..<t { gr[j] = pr[j] * (gr[j] - centre) * scale }
                                }
                                BLAS.gemm(m: t, n: w, k: t, a: dScores, lda: t, b: k, ldb: 3 * d, c: dq, ldc: 3 * d)
                                BLAS.gemm(transposeA: true, m: t, n: w, k: t, a: dScores, lda: t, b: q, ldb: 3 * d, c: dk, ldc: 3 * d)
                            }
                        }
                    }
                }
            }
        }
    }
}
