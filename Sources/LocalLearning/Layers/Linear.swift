/// A fully connected layer: y = x·Wᵀ + b, with W of shape [out, in], applied to the last dimension
/// of its input like PyTorch's `nn.Linear`: [in] → [out], or token by token [T, in] → [T, out].
///
/// Default initialisation is PyTorch's: W, b ~ U(−1/√in, 1/√in).
public final class Linear: WeightedLayer {
    public let inputSize: Int
    public let outputSize: Int
    public let weight: Parameter
    public let bias: Parameter?
    private var input: Tensor?

    public init(_ inputSize: Int, _ outputSize: Int, bias: Bool = true,
                initializer: Initializer = .pytorchDefault, rng: inout SeededGenerator) {
        self.inputSize = inputSize
        self.outputSize = outputSize
        weight = Parameter(name: "weight", value: initializer.make([outputSize, inputSize], using: &rng))
        let bound = 1 / Float(inputSize).squareRoot()
        self.bias = bias ? Parameter(name: "bias", value: .uniform([outputSize], bound: bound, using: &rng)) : nil
    }

    public var heldBuffers: [HeldBuffer] { input?.heldBuffer.map { [$0] } ?? [] }
    public func releaseHeld() { input = nil }

    public var summary: String { "Linear(\(inputSize)→\(outputSize))" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.last == inputSize, inputShape.count <= 2, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError.shapeMismatch(layer: summary, expected: "[\(inputSize)] or tokens [T, \(inputSize)]", got: inputShape)
        }
        return inputShape.dropLast() + [outputSize]
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        // Every sample (or every token of every sample) is a row.
        let batch = input.count / inputSize
        precondition(input.count == batch * inputSize && (isTokenwise(input) || batch == input.shape[0]), "\(summary) got input \(input.shape)")
        if mode.keepsForBackward { self.input = input }
        let (inSize, outSize) = (inputSize, outputSize)
        return Tensor(uninitializedShape: outputShape(ofBatch: input)) { y in
            let hasBias = bias != nil
            if let b = bias?.value {
                b.withUnsafeBufferPointer { b in
                    for row in 0..<batch { (y.baseAddress! + row * outSize).update(from: b.baseAddress!, count: outSize) }
                }
            }
            input.withUnsafeBufferPointer { x in
                weight.value.withUnsafeBufferPointer { w in
                    BLAS.gemm(transposeB: true, m: batch, n: outSize, k: inSize,
                              a: x.baseAddress!, b: w.baseAddress!, beta: hasBias ? 1 : 0, c: y.baseAddress!)
                }
            }
        }
    }

    /// A batch of token sequences [N, T, in] (else a batch of vectors, of any shape of N·in values).
    private func isTokenwise(_ input: Tensor) -> Bool { input.rank == 3 && input.shape[2] == inputSize }

    private func outputShape(ofBatch input: Tensor) -> [Int] {
        isTokenwise(input) ? [input.shape[0], input.shape[1], outputSize] : [input.shape[0], outputSize]
    }

    public func backward(_ outputGradient: Tensor, feedback: Tensor?, propagate: Bool) -> Tensor? {
        guard let input else { preconditionFailure("\(summary): backward without a training forward") }
        let batch = input.count / inputSize
        let (inSize, outSize) = (inputSize, outputSize)
        precondition(outputGradient.shape == outputShape(ofBatch: input), "\(summary) got gradient \(outputGradient.shape)")
        outputGradient.withUnsafeBufferPointer { dy in
            input.withUnsafeBufferPointer { x in
                weight.gradient.withUnsafeMutableBufferPointer { dw in
                    BLAS.gemm(transposeA: true, m: outSize, n: inSize, k: batch,
                              a: dy.baseAddress!, b: x.baseAddress!, c: dw.baseAddress!)
                }
            }
            bias?.gradient.withUnsafeMutableBufferPointer { db in
                columnSums(dy.baseAddress!, rows: batch, columns: outSize, into: db.baseAddress!)
            }
        }
        guard propagate else { return nil }
        let matrix = feedback ?? weight.value
        precondition(matrix.shape == weight.value.shape, "\(summary): feedback \(matrix.shape) must match weight \(weight.value.shape)")
        return Tensor(uninitializedShape: isTokenwise(input) ? input.shape : [input.shape[0], inSize]) { dx in
            outputGradient.withUnsafeBufferPointer { dy in
                matrix.withUnsafeBufferPointer { b in
                    BLAS.gemm(m: batch, n: inSize, k: outSize, a: dy.baseAddress!, b: b.baseAddress!, c: dx.baseAddress!)
                }
            }
        }
    }
}

/// out[j] = Σ_i m[i, j] for a row-major rows×columns matrix.
@inline(__always)
func columnSums(_ m: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
    out.update(repeating: 0, count: columns)
    for i in 0..<rows {
        let row = m + i * columns
        for j in 0..<columns { out[j] += row[j] }
    }
}
