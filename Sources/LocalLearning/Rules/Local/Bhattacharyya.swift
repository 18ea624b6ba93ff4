#if canImport(Glibc)
import Glibc
#endif

/// The Bhattacharyya distance between categorical distributions given as logits:
/// D_B(q, π) = −log Σ_k √(q_k π_k), computed stably as −logsumexp_k(½ log q_k + ½ log π_k).
/// Its gradient with respect to q's logits (π held fixed) is ½(q − r), r_k = √(q_k π_k) / Σ_j √(q_j π_j).
public enum Bhattacharyya {
    /// Log-softmax of one row.
    static func logSoftmax(_ row: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) {
        var peak = row[0]
        for k in 1..<count where row[k] > peak { peak = row[k] }
        var sum: Float = 0
        for k in 0..<count { sum += expf(row[k] - peak) }
        let shift = peak + logf(sum)
        for k in 0..<count { out[k] = row[k] - shift }
    }

    /// Mean over rows of D_B(softmax(logits), softmax(priorLogits)) and its gradient with respect to
    /// `logits` (already divided by the row count).
    public static func distance(logits: Tensor, priorLogits: Tensor) -> LossResult {
        precondition(logits.rank == 2 && logits.shape == priorLogits.shape, "Bhattacharyya needs equal [N, K] logits, got \(logits.shape) and \(priorLogits.shape)")
        let (rows, k) = (logits.shape[0], logits.shape[1])
        var total = 0.0
        let logQ = UnsafeMutablePointer<Float>.allocate(capacity: k), logP = UnsafeMutablePointer<Float>.allocate(capacity: k)
        defer { logQ.deallocate(); logP.deallocate() }
        let gradient = Tensor(uninitializedShape: logits.shape) { g in
            logits.withUnsafeBufferPointer { a in
                priorLogits.withUnsafeBufferPointer { b in
                    for n in 0..<rows {
                        logSoftmax(a.baseAddress! + n * k, count: k, into: logQ)
                        logSoftmax(b.baseAddress! + n * k, count: k, into: logP)
                        var peak = -Float.infinity
                        for i in 0..<k { peak = max(peak, 0.5 * (logQ[i] + logP[i])) }
                        var sum: Float = 0
                        for i in 0..<k { sum += expf(0.5 * (logQ[i] + logP[i]) - peak) }
                        let logBC = peak + logf(sum)
                        total -= Double(logBC)
                        for i in 0..<k {
                            let q = expf(logQ[i]), r = expf(0.5 * (logQ[i] + logP[i]) - logBC)
                            g[n * k + i] = 0.5 * (q - r) / Float(rows)
                        }
                    }
                }
            }
        }
        return LossResult(loss: Float(total / Double(rows)), gradient: gradient)
    }
}
