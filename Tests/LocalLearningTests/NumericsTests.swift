import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Vectorised math and BLAS")
struct NumericsTests {
    @Test func tanhApproximationError() {
        let xs = stride(from: -12.0, through: 12.0, by: 0.001).map { Float($0) }
        var ys = [Float](repeating: 0, count: xs.count)
        VectorMath.tanh(xs, &ys, count: xs.count)
        let worst = zip(xs, ys).map { abs(Double($1) - Foundation.tanh(Double($0))) }.max()!
        #expect(worst < 3e-7, "max |error| \(worst)")
        #expect(VectorMath.tanh(Float(0.5)) == ys[12_500])
    }

    @Test func expApproximationError() {
        let xs = stride(from: -87.0, through: 88.0, by: 0.01).map { Float($0) }
        var ys = [Float](repeating: 0, count: xs.count)
        VectorMath.exp(xs, &ys, count: xs.count)
        let worst = zip(xs, ys).map { abs(Double($1) / Foundation.exp(Double($0)) - 1) }.max()!
        #expect(worst < 3e-7, "max relative error \(worst)")
        var extremes = [Float](repeating: 1, count: 3)
        VectorMath.exp([-100, 100, 0], &extremes, count: 3)
        #expect(extremes == [0, .infinity, 1])
    }

    @Test func sigmoidAndElu() {
        let xs: [Float] = [-20, -1, 0, 0.5, 20]
        let sigmoid = ActivationFunction.sigmoid.apply(Tensor(shape: [5], scalars: xs))
        let elu = ActivationFunction.elu(alpha: 1).apply(Tensor(shape: [5], scalars: xs))
        for (i, x) in xs.enumerated() {
            #expect(abs(Double(sigmoid[i]) - 1 / (1 + Foundation.exp(-Double(x)))) < 1e-6)
            #expect(abs(Double(elu[i]) - (x > 0 ? Double(x) : Foundation.exp(Double(x)) - 1)) < 1e-6)
        }
    }

    @Test func sumsAndDots() {
        let x = (0..<37).map { Float($0) }
        #expect(VectorMath.sum(x, count: 37) == 666)
        #expect(VectorMath.dot(x, x, count: 37) == Float((0..<37).map { $0 * $0 }.reduce(0, +)))
    }

    @Test func fusedSumAndDotEqualsTheSeparatePassesBitForBit() {
        // Irregular values and a length with a scalar tail: the fused pass must add in the same order.
        let y = (0..<43).map { Float(sin(Double($0) * 1.7)) * 3.1 }
        let x = (0..<43).map { Float(cos(Double($0) * 0.9)) - 0.25 }
        let (sum, dot) = VectorMath.sumAndDot(y, x, count: 43)
        #expect(sum == VectorMath.sum(y, count: 43))
        #expect(dot == VectorMath.dot(y, x, count: 43))
        #expect(abs(Double(dot) - zip(x, y).map { Double($0) * Double($1) }.reduce(0, +)) < 1e-4)
    }

    @Test func matmulAgainstDefinition() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], scalars: [7, 8, 9, 10, 11, 12])
        #expect(BLAS.matmul(a, b).scalars == [58, 64, 139, 154])
        #expect(BLAS.matmul(a, a, transposeB: true).scalars == [14, 32, 32, 77])
        #expect(BLAS.matmul(a, a, transposeA: true).shape == [3, 3])
    }

    /// Geometries of both im2col paths: the general one and the stride-1 same-size one.
    static let geometries = [
        ConvolutionGeometry(channels: 2, height: 5, width: 4, kernelHeight: 3, kernelWidth: 3, stride: 2, padding: 1),
        ConvolutionGeometry(channels: 2, height: 5, width: 4, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
        ConvolutionGeometry(channels: 1, height: 6, width: 7, kernelHeight: 5, kernelWidth: 5, stride: 1, padding: 2),
        ConvolutionGeometry(channels: 2, height: 5, width: 4, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 0),
    ]

    @Test(arguments: geometries)
    func im2colFoldIsTheAdjointOfUnfold(_ g: ConvolutionGeometry) {
        // ⟨unfold(x), c⟩ = ⟨x, fold(c)⟩ for any x, c.
        var rng = SeededGenerator(seed: 8)
        let x = Tensor.uniform([3, g.channels, g.height, g.width], bound: 1, using: &rng)
        let c = Tensor.uniform([g.patchSize, 3 * g.outputPlane], bound: 1, using: &rng)
        var unfolded = [Float](repeating: 0, count: c.count), folded = [Float](repeating: 0, count: x.count)
        var scratch = c.scalars
        x.withUnsafeBufferPointer { Im2col.unfold($0.baseAddress!, batch: 3, geometry: g, into: &unfolded) }
        Im2col.fold(&scratch, batch: 3, geometry: g, into: &folded)
        let left = zip(unfolded, c.scalars).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        let right = zip(x.scalars, folded).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        #expect(abs(left - right) < 1e-4)
    }

    @Test(arguments: [2, 1])
    func convolutionMatchesADirectLoop(stride: Int) {
        var rng = SeededGenerator(seed: 9)
        let conv = Conv2D(2, 3, kernelSize: 3, stride: stride, padding: 1, rng: &rng)
        let x = Tensor.uniform([2, 2, 5, 6], bound: 1, using: &rng)
        let y = conv.forward(x, mode: .evaluation)
        let (oh, ow) = (y.shape[2], y.shape[3])
        #expect(y.shape == (stride == 2 ? [2, 3, 3, 3] : [2, 3, 5, 6]))
        let w = conv.weight.value, b = conv.bias!.value
        for n in 0..<2 { for o in 0..<3 { for i in 0..<oh { for j in 0..<ow {
            var s = Double(b[o])
            for c in 0..<2 { for ki in 0..<3 { for kj in 0..<3 {
                let (yy, xx) = (i * stride - 1 + ki, j * stride - 1 + kj)
                if yy >= 0 && yy < 5 && xx >= 0 && xx < 6 {
                    s += Double(w[((o * 2 + c) * 3 + ki) * 3 + kj]) * Double(x[((n * 2 + c) * 5 + yy) * 6 + xx])
                }
            } } }
            #expect(abs(Double(y[((n * 3 + o) * oh + i) * ow + j]) - s) < 1e-5)
        } } } }
    }

    @Test func seededGeneratorIsReproducibleAndRoughlyUniform() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xs = (0..<10_000).map { _ in a.nextUniform() }
        #expect(xs == (0..<10_000).map { _ in b.nextUniform() })
        #expect(xs != (0..<10_000).map { _ in c.nextUniform() })
        let mean = xs.reduce(0, +) / 10_000
        #expect(abs(mean - 0.5) < 0.01)
        let normals = (0..<20_000).map { _ in Double(a.nextNormal()) }
        let m = normals.reduce(0, +) / 20_000, v = normals.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 20_000
        #expect(abs(m) < 0.03 && abs(v - 1) < 0.05)
    }

    @Test func initializerScales() {
        var rng = SeededGenerator(seed: 1)
        let shape = [200, 300]
        for initializer in Initializer.allCases {
            let w = initializer.make(shape, using: &rng)
            let std = (w.squaredNorm / Double(w.count)).squareRoot()
            let expected = Double(initializer.standardDeviation(for: shape))
            #expect(abs(std / expected - 1) < 0.03, "\(initializer): std \(std), expected \(expected)")
        }
        #expect(Initializer.fans([8, 4, 3, 3]) == (36, 72))
        let bound = 1 / Float(300).squareRoot()
        #expect(Initializer.pytorchDefault.make(shape, using: &rng).scalars.allSatisfy { abs($0) <= bound })
    }
}
