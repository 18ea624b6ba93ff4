/// The ViT token embedding after the patch projection: an optional learned class token prepended
/// to the T patch tokens, then a learned position embedding added to every token:
/// [T, D] → [T + 1, D] (with the class token) or [T, D]. Both start N(0, 0.02²), as in ViT.
public final class TokenEmbedding: Layer {
    public let tokens: Int
    public let dimension: Int
    /// The class token [D], or nil when the model reads the mean token.
    public let classToken: Parameter?
    public let position: Parameter

    public init(tokens: Int, dimension: Int, classToken: Bool, rng: inout SeededGenerator) {
        precondition(tokens > 0 && dimension > 0, "a token embedding needs tokens and features")
        self.tokens = tokens
        self.dimension = dimension
        self.classToken = classToken ? Parameter(name: "class_token", value: .normal([dimension], standardDeviation: 0.02, using: &rng)) : nil
        position = Parameter(name: "position", value: .normal([tokens + (classToken ? 1 : 0), dimension], standardDeviation: 0.02, using: &rng))
    }

    var prefix: Int { classToken == nil ? 0 : 1 }

    public var summary: String { "TokenEmbedding(\(tokens)\(classToken == nil ? "" : "+class")×\(dimension))" }
    public var parameters: [Parameter] { (classToken.map { [$0] } ?? []) + [position] }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape == [tokens, dimension] else {
            throw ModelError.shapeMismatch(layer: summary, expected: "[\(tokens), \(dimension)]", got: inputShape)
        }
        return [tokens + prefix, dimension]
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        let n = input.shape[0], (t, d, c) = (tokens, dimension, prefix)
        precondition(input.count == n * t * d, "\(summary) got input \(input.shape)")
        return Tensor(uninitializedShape: [n, t + c, d]) { out in
            input.withUnsafeBufferPointer { x in
                position.value.withUnsafeBufferPointer { pos in
                    for sample in 0..<n {
                        let o = out.baseAddress! + sample * (t + c) * d
                        if let token = classToken?.value {
                            token.withUnsafeBufferPointer { cls in for j in 0..<d { o[j] = cls[j] + pos[j] } }
                        }
                        let xs = x.baseAddress! + sample * t * d, body = o + c * d, p = pos.baseAddress! + c * d
                        for i in 0..<(t * d) { body[i] = xs[i] + p[i] }
                    }
                }
            }
        }
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        let (t, d, c) = (tokens, dimension, prefix), rows = t + c
        let n = outputGradient.count / (rows * d)
        precondition(outputGradient.count == n * rows * d, "\(summary) got gradient \(outputGradient.shape)")
        outputGradient.withUnsafeBufferPointer { dy in
            position.gradient.withUnsafeMutableBufferPointer { dp in
                dp.update(repeating: 0)
                for sample in 0..<n {
                    let g = dy.baseAddress! + sample * rows * d
                    for i in 0..<(rows * d) { dp[i] += g[i] }
                }
            }
            classToken?.gradient.withUnsafeMutableBufferPointer { dc in
                dc.update(repeating: 0)
                for sample in 0..<n {
                    let g = dy.baseAddress! + sample * rows * d
                    for j in 0..<d { dc[j] += g[j] }
                }
            }
        }
        guard propagate else { return nil }
        return Tensor(uninitializedShape: [n, t, d]) { dx in
            outputGradient.withUnsafeBufferPointer { dy in
                for sample in 0..<n {
                    (dx.baseAddress! + sample * t * d).update(from: dy.baseAddress! + (sample * rows + c) * d, count: t * d)
                }
            }
        }
    }
}
