import Testing
@testable import LocalLearning

@Suite("Winograd F(2×2, 3×3) against the im2col convolution")
struct WinogradTests {
    /// Winograd's output for `conv`'s weights (or `weights`) on `x`.
    static func winograd(_ x: Tensor, weights w: Tensor, bias: Tensor?, padding: Int) -> Tensor {
        let (n, c, h, wd, k) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0])
        let (ho, wo) = (h + 2 * padding - 2, wd + 2 * padding - 2)
        let floats = Winograd.scratchFloats(samples: n, inChannels: c, outChannels: k, outputHeight: ho, outputWidth: wo)
        let u = UnsafeMutablePointer<Float>.allocate(capacity: 16 * k * c), v = UnsafeMutablePointer<Float>.allocate(capacity: floats)
        let m = UnsafeMutablePointer<Float>.allocate(capacity: floats)
        defer { u.deallocate(); v.deallocate(); m.deallocate() }
        w.withUnsafeBufferPointer { Winograd.transformFilters($0.baseAddress!, outChannels: k, inChannels: c, into: u) }
        return Tensor(uninitializedShape: [n, k, ho, wo]) { y in
            x.withUnsafeBufferPointer { xs in
                let shift = bias?.scalars ?? []
                shift.withUnsafeBufferPointer { b in
                    Winograd.convolve(xs.baseAddress!, samples: n, inChannels: c, height: h, width: wd, transformedFilters: u, outChannels: k,
                                      padding: padding, bias: bias == nil ? nil : b.baseAddress!, into: y.baseAddress!, v: v, m: m)
                }
            }
        }
    }

    static func close(_ a: Tensor, _ b: Tensor) -> Bool {
        a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) }
    }

    @Test(arguments: [(1, 0, 5, 7), (1, 1, 8, 8), (2, 1, 7, 9), (3, 2, 6, 5), (1, 1, 1, 3), (2, 1, 5, 21), (1, 0, 6, 20)])
    func forwardMatchesTheIm2colConvolution(samples: Int, padding: Int, height: Int, width: Int) {
        var rng = SeededGenerator(seed: 7)
        let conv = Conv2D(5, 6, kernelSize: 3, padding: padding, rng: &rng)
        let x = Tensor.uniform([samples, 5, height, width], bound: 1, using: &rng)
        let reference = conv.forward(x, mode: .evaluation)
        #expect(Self.close(Self.winograd(x, weights: conv.weight.value, bias: conv.bias?.value, padding: padding), reference))
    }

    @Test(arguments: [0, 1, 2])
    func theInputGradientIsTheFlippedKernelsConvolution(padding: Int) {
        var rng = SeededGenerator(seed: 9)
        let conv = Conv2D(4, 3, kernelSize: 3, padding: padding, bias: false, rng: &rng)
        let x = Tensor.uniform([2, 4, 6, 7], bound: 1, using: &rng)
        let y = conv.forward(x, mode: .training)
        let dy = Tensor.uniform(y.shape, bound: 1, using: &rng)
        let reference = conv.backward(dy, propagate: true)!
        let flipped = Tensor(uninitializedShape: [4, 3, 3, 3]) { out in
            conv.weight.value.withUnsafeBufferPointer { Winograd.flippedTransposed($0.baseAddress!, outChannels: 3, inChannels: 4, into: out.baseAddress!) }
        }
        #expect(Self.close(Self.winograd(dy, weights: flipped, bias: nil, padding: 2 - padding), reference))
    }

    @Test(arguments: [0, 1, 2])
    func conv2DTakesWinogradWhereItPaysAndAgreesWithIm2col(padding: Int) {
        func run(winograd: Bool) -> (Tensor, Tensor, Tensor, Tensor, Bool) {
            var rng = SeededGenerator(seed: 3)
            let conv = Conv2D(8, 12, kernelSize: 3, padding: padding, rng: &rng)
            (conv.allowsWinograd, conv.winogradChannels) = (winograd, 8)
            conv.chunkFloats = 2_000  // several chunks of samples
            let x = Tensor.uniform([5, 8, 9, 10], bound: 1, using: &rng)
            let y = conv.forward(x, mode: .training)
            let dy = Tensor.uniform(y.shape, bound: 1, using: &rng)
            let dx = conv.backward(dy, propagate: true)!
            return (y, dx, conv.weight.gradient, conv.bias!.gradient, conv.usesWinograd(from: 8, to: 12))
        }
        let (fast, plain) = (run(winograd: true), run(winograd: false))
        #expect(fast.4 && !plain.4)
        #expect(Self.close(fast.0, plain.0) && Self.close(fast.1, plain.1))
        #expect(fast.2 == plain.2 && fast.3 == plain.3, "the weight gradient stays im2col's")
    }
}
