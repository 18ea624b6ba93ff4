#if canImport(Glibc)
import Glibc
#endif

/// A loss value and its gradient with respect to the prediction.
public struct LossResult: Sendable {
    public var loss: Float
    public var gradient: Tensor
    /// Rows whose logits put the label first, for losses that classify (nil otherwise).
    public var correct: Int? = nil
}

/// Softmax cross-entropy with integer labels, averaged over the batch:
/// L = −(1/N) Σ_n log softmax(z_n)[y_n];  ∂L/∂z = (softmax(z) − onehot(y)) / N.
public struct SoftmaxCrossEntropy: Sendable {
    public init() {}

    public func callAsFunction(_ logits: Tensor, labels: [Int32]) -> LossResult {
        precondition(logits.rank == 2 && logits.shape[0] == labels.count,
                     "cross-entropy needs logits [N, C] and N labels, got \(logits.shape) and \(labels.count)")
        let (batch, classes) = (logits.shape[0], logits.shape[1])
        var total = 0.0, correct = 0
        let gradient = Tensor(uninitializedShape: logits.shape) { g in
            logits.withUnsafeBufferPointer { z in
                for n in 0..<batch {
                    let row = z.baseAddress! + n * classes, out = g.baseAddress! + n * classes
                    let label = Int(labels[n])
                    precondition(label >= 0 && label < classes, "label \(label) out of range for \(classes) classes")
                    var peak = row[0], best = 0
                    for k in 1..<classes where row[k] > peak { (peak, best) = (row[k], k) }
                    if best == label { correct += 1 }
                    var sum: Float = 0
                    for k in 0..<classes {
                        out[k] = expf(row[k] - peak)
                        sum += out[k]
                    }
                    total += Double(logf(sum) + peak - row[label])
                    let scale = 1 / (sum * Float(batch))
                    for k in 0..<classes { out[k] *= scale }
                    out[label] -= 1 / Float(batch)
                }
            }
        }
        return LossResult(loss: Float(total / Double(batch)), gradient: gradient, correct: correct)
    }

    /// How many rows of `logits` have their largest entry at the label (first maximum wins ties).
    public static func correctCount(_ logits: Tensor, labels: [Int32]) -> Int {
        zip(predictions(logits), labels).reduce(0) { $0 + ($1.0 == Int($1.1) ? 1 : 0) }
    }

    /// Each row's predicted class: the index of its largest entry (first maximum wins ties).
    public static func predictions(_ logits: Tensor) -> [Int] {
        let (rows, classes) = (logits.shape[0], logits.shape[1])
        return logits.withUnsafeBufferPointer { z in
            (0..<rows).map { n in
                let row = z.baseAddress! + n * classes
                var best = 0
                for k in 1..<classes where row[k] > row[best] { best = k }
                return best
            }
        }
    }
}
