import Foundation

/// A 2-d convolution over [N, C, H, W] inputs (cross-correlation, as in PyTorch), by im2col + GEMM
/// over chunks of samples: a chunk's patch columns live only in a per-thread scratch buffer (a few
/// MiB, shared by every convolution on the thread), and backward unfolds them again from the input
/// it keeps — nothing but that input (storage shared with the layer before) is held between passes.
///
/// Weight shape [out, in, k, k]; default initialisation is PyTorch's: U(−1/√(in·k²), +…) for W and b.
public final class Conv2D: WeightedLayer {
    public let inChannels, outChannels, kernelSize, stride, padding: Int
    public let weight: Parameter
    public let bias: Parameter?
    /// The training forward's input, which backward unfolds again.
    private var input: Tensor?
    private var cachedGeometry: ConvolutionGeometry?
    /// Floats of patch columns per chunk of samples (tests make it small to force several chunks).
    var chunkFloats = ConvolutionScratch.chunkFloats
    /// Whether 3×3 stride-1 convolutions with enough channels use Winograd's F(2×2, 3×3) (forward and
    /// input gradient; the weight gradient stays im2col). `LOCALLEARN_NO_WINOGRAD=1` turns it off for
    /// a run (to measure one against the other); tests switch it per layer.
    public var allowsWinograd = ProcessInfo.processInfo.environment["LOCALLEARN_NO_WINOGRAD"] == nil
    /// Channels on both sides from which Winograd is used: measured 2026-12-01 with `bench --only kernels`
    /// (ResNet-20's shapes, one thread, alternated, two runs) it is 5–20% slower than im2col at 16 and 32
    /// channels and even to 10% faster at 64.
    public var winogradChannels = 64

    /// 3×3, stride 1, padding ≤ 2, and at least `winogradChannels` channels in and out.
    func usesWinograd(from inputs: Int, to outputs: Int) -> Bool {
        allowsWinograd && kernelSize == 3 && stride == 1 && padding <= 2 && min(inputs, outputs) >= winogradChannels
    }

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

    public var heldBuffers: [HeldBuffer] { (input?.heldBuffer.map { [$0] } ?? []) + ConvolutionScratch.current.heldBuffers }
    public func releaseHeld() {
        input = nil
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
        let plane = g.outputPlane, outC = outChannels, inputSize = inChannels * g.inputPlane
        let scratch = ConvolutionScratch.current
        if usesWinograd(from: inChannels, to: outChannels) {
            let output = winograd(input, weights: weight.value, from: inChannels, to: outChannels, padding: padding, bias: bias?.value)
            (self.input, cachedGeometry) = mode.keepsForBackward ? (input, g) : (nil, nil)
            return output
        }
        let output = Tensor(uninitializedShape: [batch, outC, g.outputHeight, g.outputWidth]) { y in
            input.withUnsafeBufferPointer { x in
                weight.value.withUnsafeBufferPointer { w in
                    for chunk in ConvolutionScratch.chunks(batch: batch, geometry: g, floats: chunkFloats) {
                        let count = chunk.count, columnCount = count * plane
                        let cols = scratch.columns.buffer(g.patchSize * columnCount)
                        Im2col.unfold(x.baseAddress! + chunk.lowerBound * inputSize, batch: count, geometry: g, into: cols)
                        let target = y.baseAddress! + chunk.lowerBound * outC * plane
                        // One sample's [out, P] product is its output slice; a larger chunk's [out, n·P] is scattered.
                        let product = count == 1 ? target : scratch.product.buffer(outC * columnCount)
                        BLAS.gemm(m: outC, n: columnCount, k: g.patchSize, a: w.baseAddress!, b: cols, c: product)
                        ConvolutionScratch.scatter(product, into: target, channels: outC, samples: count, plane: plane,
                                                   bias: bias?.value)
                    }
                }
            }
        }
        if mode.keepsForBackward {
            self.input = input
            cachedGeometry = g
        } else {
            self.input = nil
            cachedGeometry = nil
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, feedback: Tensor?, propagate: Bool) -> Tensor? {
        guard let g = cachedGeometry, let input else { preconditionFailure("\(summary): backward without a training forward") }
        let batch = input.shape[0], plane = g.outputPlane, outC = outChannels, inputSize = inChannels * g.inputPlane
        precondition(outputGradient.shape == [batch, outC, g.outputHeight, g.outputWidth],
                     "\(summary) got gradient \(outputGradient.shape)")
        let matrix = feedback ?? weight.value
        precondition(matrix.shape == weight.value.shape, "\(summary): feedback \(matrix.shape) must match weight \(weight.value.shape)")
        let scratch = ConvolutionScratch.current
        bias?.gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        // `dx` (every sample's slice written by its chunk's fold) is nil when the input gradient is not wanted.
        func chunks(_ dx: UnsafeMutablePointer<Float>?) {
            input.withUnsafeBufferPointer { x in
                outputGradient.withUnsafeBufferPointer { dyAll in
                    for (index, chunk) in ConvolutionScratch.chunks(batch: batch, geometry: g, floats: chunkFloats).enumerated() {
                        let count = chunk.count, columnCount = count * plane
                        let cols = scratch.columns.buffer(g.patchSize * columnCount)
                        Im2col.unfold(x.baseAddress! + chunk.lowerBound * inputSize, batch: count, geometry: g, into: cols)
                        // dy of the chunk as [out, n·P] (a single sample's slice already is).
                        let source = dyAll.baseAddress! + chunk.lowerBound * outC * plane
                        let dy: UnsafePointer<Float>
                        if count == 1 {
                            dy = source
                        } else {
                            let gathered = scratch.product.buffer(outC * columnCount)
                            ConvolutionScratch.gather(source, into: gathered, channels: outC, samples: count, plane: plane)
                            dy = UnsafePointer(gathered)
                        }
                        weight.gradient.withUnsafeMutableBufferPointer { dw in
                            BLAS.gemm(transposeB: true, m: outC, n: g.patchSize, k: columnCount, a: dy, b: cols,
                                      beta: index == 0 ? 0 : 1, c: dw.baseAddress!)
                        }
                        bias?.gradient.withUnsafeMutableBufferPointer { db in
                            for o in 0..<outC { db[o] += VectorMath.sum(dy + o * columnCount, count: columnCount) }
                        }
                        guard let dx else { continue }
                        let dCols = scratch.gradientColumns.buffer(g.patchSize * columnCount)
                        matrix.withUnsafeBufferPointer { b in
                            BLAS.gemm(transposeA: true, m: g.patchSize, n: columnCount, k: outC, a: b.baseAddress!, b: dy, c: dCols)
                        }
                        Im2col.fold(dCols, batch: count, geometry: g, into: dx + chunk.lowerBound * inputSize)
                    }
                }
            }
        }
        guard propagate else {
            chunks(nil)
            return nil
        }
        if usesWinograd(from: outChannels, to: inChannels) {
            chunks(nil)
            // The input gradient: dy ⋆ W′ with W′[c, k] = W[k, c] flipped, padded by 2 − p.
            let kernel = Tensor(uninitializedShape: [inChannels, outC, 3, 3]) { out in
                matrix.withUnsafeBufferPointer { Winograd.flippedTransposed($0.baseAddress!, outChannels: outC, inChannels: inChannels, into: out.baseAddress!) }
            }
            return winograd(outputGradient, weights: kernel, from: outC, to: inChannels, padding: 2 - padding, bias: nil)
        }
        return Tensor(uninitializedShape: [batch, inChannels, g.height, g.width]) { chunks($0.baseAddress!) }
    }

    /// `x` [N, from, H, W] ⋆ `weights` [to, from, 3, 3] by Winograd, in chunks of samples whose
    /// transformed tiles fit the scratch.
    func winograd(_ x: Tensor, weights: Tensor, from c: Int, to k: Int, padding p: Int, bias: Tensor?) -> Tensor {
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let (ho, wo) = (h + 2 * p - 2, w + 2 * p - 2)
        let scratch = ConvolutionScratch.current
        let u = scratch.filters.buffer(16 * k * c)
        weights.withUnsafeBufferPointer { Winograd.transformFilters($0.baseAddress!, outChannels: k, inChannels: c, into: u) }
        let perSample = Winograd.scratchFloats(samples: 1, inChannels: c, outChannels: k, outputHeight: ho, outputWidth: wo)
        let size = max(1, min(n, chunkFloats / max(perSample, 1)))
        return Tensor(uninitializedShape: [n, k, ho, wo]) { y in
            x.withUnsafeBufferPointer { xs in
                let shift = bias?.scalars ?? []
                shift.withUnsafeBufferPointer { b in
                    for start in Swift.stride(from: 0, to: n, by: size) {
                        let count = min(size, n - start)
                        let v = scratch.columns.buffer(perSample * count), m = scratch.product.buffer(perSample * count)
                        Winograd.convolve(xs.baseAddress! + start * c * h * w, samples: count, inChannels: c, height: h, width: w,
                                          transformedFilters: u, outChannels: k, padding: p, bias: bias == nil ? nil : b.baseAddress!,
                                          into: y.baseAddress! + start * k * ho * wo, v: v, m: m)
                    }
                }
            }
        }
    }
}
