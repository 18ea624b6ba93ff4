/// Reads one vector from a token sequence [T, D] → [D]: the class token (the first) or the mean
/// of all tokens. The ViT classifier's input; unit-local rules read hidden token sequences the same way.
public final class TokenPool: Layer {
    public enum Reading: String, Sendable, CaseIterable {
        case classToken = "cls"
        case mean
    }

    public let reading: Reading
    private var inputShape: [Int] = []

    public init(_ reading: Reading) { self.reading = reading }

    public var summary: String { reading == .classToken ? "ClassToken" : "MeanToken" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 2, inputShape[0] > 0 else {
            throw ModelError.shapeMismatch(layer: summary, expected: "tokens [T, D]", got: inputShape)
        }
        return [inputShape[1]]
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition(input.rank == 3, "\(summary) got input \(input.shape)")
        if mode.keepsForBackward { inputShape = input.shape }
        return Self.pool(input, reading)
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        guard propagate else { return nil }
        precondition(!inputShape.isEmpty, "\(summary): backward without a training forward")
        return Self.spread(outputGradient, tokens: inputShape[1], reading)
    }

    /// [N, T, D] → [N, D].
    public static func pool(_ input: Tensor, _ reading: Reading) -> Tensor {
        let (n, t, d) = (input.shape[0], input.shape[1], input.shape[2])
        return Tensor(uninitializedShape: [n, d]) { out in
            input.withUnsafeBufferPointer { x in
                for sample in 0..<n {
                    let o = out.baseAddress! + sample * d, xs = x.baseAddress! + sample * t * d
                    o.update(from: xs, count: d)
                    guard reading == .mean else { continue }
                    for token in 1..<max(t, 1) { for j in 0..<d { o[j] += xs[token * d + j] } }
                    for j in 0..<d { o[j] /= Float(t) }
                }
            }
        }
    }

    /// The gradient of `pool`: [N, D] → [N, T, D] (to the class token only, or 1/T to every token).
    public static func spread(_ gradient: Tensor, tokens t: Int, _ reading: Reading) -> Tensor {
        let (n, d) = (gradient.shape[0], gradient.shape[1])
        var dx = Tensor(shape: [n, t, d])
        dx.withUnsafeMutableBufferPointer { out in
            gradient.withUnsafeBufferPointer { g in
                for sample in 0..<n {
                    let gs = g.baseAddress! + sample * d, o = out.baseAddress! + sample * t * d
                    if reading == .classToken {
                        o.update(from: gs, count: d)
                    } else {
                        for token in 0..<t { for j in 0..<d { o[token * d + j] = gs[j] / Float(t) } }
                    }
                }
            }
        }
        return dx
    }
}
