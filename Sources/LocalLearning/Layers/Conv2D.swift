/// A 2-d convolution over [N, C, H, W] inputs (cross-correlation, as in PyTorch), by im2col + GEMM.
///
/// Weight shape [out, in, k, k]; default initialisation is PyTorch's: U(−1/√(in·k²), +…) for W and b.
public final class Conv2D: WeightedLayer {
    public let inChannels, outChannels, kernelSize, stride, padding: Int
    public let weight: Parameter
    public let bias: Parameter?
    private let columns = Workspace()          // im2col of the cached input, reused across steps
    private let scratch = Workspace()          // [out, N·P] products and their gradients
    private let inputGradientColumns = Workspace()
    private var cachedGeometry: ConvolutionGeometry?
    private var cachedBatch = 0

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, initializer: Initializer = .pytorchDefault, rng: inout SeededGenerator) {
        precondition(kernelSize > 0 && stride > 0 && padding >= 0, "Conv2D needs kernel > 0, stride > 0, padding ≥ 0")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        let shape = [outChannels, inChannels, kernelSize, kernelSize]
        weight = Parameter(name: "weight", value: initializer.make(shape, using: &rng))
        let bound = 1 / Float(inChannels * kernelSize * kernelSize).squareRoot()
        self.bias = bias ? Parameter(name: "bias", value: .uniform([outChannels], bound: bound, using: &rng)) : nil
    }

    public var summary: String {
        "Conv2D(\(inChannels)→\(outChannels), \(kernelSize)×\(kernelSize), stride \(stride), pad \(padding))"
    }

    public var heldBuffers: [HeldBuffer] { [columns, scratch, inputGradientColumns].compactMap(\.heldBuffer) }
    public func releaseHeld() {
        columns.release()
        scratch.release()
        inputGradientColumns.release()
        cachedGeometry = nil
    }

    func geometry(height: Int, width: Int) -> ConvolutionGeometry {
        ConvolutionGeometry(channels: inChannels, height: height, width: width, kernelHeight: kernelSize,
                            kernelWidth: kernelSize, stride: stride, padding: padding)
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3, inputShape[0] == inChannels,
              inputShape[1] + 2 * padding >= kernelSize, inputShape[2] + 2 * padding >= kernelSize else {
            throw ModelError.shapeMismatch(layer: summary, expected: "[\(inChannels), H ≥ \(kernelSize - 2 * padding), W]",
                                           got: inputShape)
        }
        let g = geometry(height: inputShape[1], width: inputShape[2])
        return [outChannels, g.outputHeight, g.outputWidth]
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition(input.rank == 4 && input.shape[1] == inChannels, "\(summary) got input \(input.shape)")
        let batch = input.shape[0]
        let g = geometry(height: input.shape[2], width: input.shape[3])
        let plane = g.outputPlane, outC = outChannels, columnCount = batch * plane
        let cols = columns.buffer(g.patchSize * columnCount)
        input.withUnsafeBufferPointer { Im2col.unfold($0.baseAddress!, batch: batch, geometry: g, into: cols) }
        let product = scratch.buffer(outC * columnCount)
        weight.value.withUnsafeBufferPointer { w in
            BLAS.gemm(m: outC, n: columnCount, k: g.patchSize, a: w.baseAddress!, b: cols, c: product)
        }
        cachedGeometry = mode == .training ? g : nil
        cachedBatch = batch
        // [out, N·P] → [N, out, P], adding the bias.
        return Tensor(uninitializedShape: [batch, outC, g.outputHeight, g.outputWidth]) { y in
            let bias = self.bias?.value.scalars
            Parallel.forRanges(outC, costPerItem: columnCount) { range in
                for o in range {
                    let b = bias?[o] ?? 0
                    for n in 0..<batch {
                        let source = product + o * columnCount + n * plane
                        let target = y.baseAddress! + (n * outC + o) * plane
                        for p in 0..<plane { target[p] = source[p] + b }
                    }
                }
            }
        }
    }

    public func backward(_ outputGradient: Tensor, feedback: Tensor?, propagate: Bool) -> Tensor? {
        guard let g = cachedGeometry else { preconditionFailure("\(summary): backward without a training forward") }
        let batch = cachedBatch, plane = g.outputPlane, outC = outChannels, columnCount = batch * plane
        precondition(outputGradient.shape == [batch, outC, g.outputHeight, g.outputWidth],
                     "\(summary) got gradient \(outputGradient.shape)")
        // [N, out, P] → [out, N·P]
        let dy = scratch.buffer(outC * columnCount)
        outputGradient.withUnsafeBufferPointer { src in
            Parallel.forRanges(outC, costPerItem: columnCount) { range in
                for o in range {
                    for n in 0..<batch {
                        let source = src.baseAddress! + (n * outC + o) * plane, target = dy + o * columnCount + n * plane
                        for p in 0..<plane { target[p] = source[p] }
                    }
                }
            }
        }
        let cols = columns.pointer
        weight.gradient.withUnsafeMutableBufferPointer { dw in
            BLAS.gemm(transposeB: true, m: outC, n: g.patchSize, k: columnCount, a: dy, b: cols, c: dw.baseAddress!)
        }
        bias?.gradient.withUnsafeMutableBufferPointer { db in
            for o in 0..<outC {
                db[o] = VectorMath.sum(dy + o * columnCount, count: columnCount)
            }
        }
        guard propagate else { return nil }
        let matrix = feedback ?? weight.value
        precondition(matrix.shape == weight.value.shape, "\(summary): feedback \(matrix.shape) must match weight \(weight.value.shape)")
        let dCols = inputGradientColumns.buffer(g.patchSize * columnCount)
        matrix.withUnsafeBufferPointer { b in
            BLAS.gemm(transposeA: true, m: g.patchSize, n: columnCount, k: outC, a: b.baseAddress!, b: dy, c: dCols)
        }
        return Tensor(uninitializedShape: [batch, inChannels, g.height, g.width]) { dx in
            Im2col.fold(dCols, batch: batch, geometry: g, into: dx.baseAddress!)
        }
    }
}
