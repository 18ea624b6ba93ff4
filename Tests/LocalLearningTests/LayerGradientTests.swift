import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Layer backward against central finite differences")
struct LayerGradientTests {
    static let tolerance = 1e-2

    @Test func linear() {
        var rng = SeededGenerator(seed: 1)
        let report = GradientCheck.check(Linear(7, 5, rng: &rng), input: GradientCheck.input([4, 7]))
        #expect(report.worst < Self.tolerance, "\(report)")
        #expect(report.parameterErrors.keys.sorted() == ["bias", "weight"])
    }

    /// Convolution by its definition, for any geometry.
    static func directConvolution(_ conv: Conv2D, _ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (k, s, p, o) = (conv.kernelSize, conv.stride, conv.padding, conv.outChannels)
        let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
        var y = Tensor(shape: [n, o, oh, ow])
        for b in 0..<n { for oc in 0..<o { for i in 0..<oh { for j in 0..<ow {
            var sum = conv.bias.map { $0.value[oc] } ?? 0
            for ic in 0..<c { for ki in 0..<k { for kj in 0..<k {
                let (r, q) = (i * s - p + ki, j * s - p + kj)
                guard r >= 0, r < h, q >= 0, q < w else { continue }
                sum += conv.weight.value[((oc * c + ic) * k + ki) * k + kj] * x[((b * c + ic) * h + r) * w + q]
            } } }
            y[((b * o + oc) * oh + i) * ow + j] = sum
        } } } }
        return y
    }

    @Test(arguments: [(1, 1, 3, 1), (2, 2, 3, 1), (1, 1, 5, 2), (2, 1, 5, 2), (3, 4, 3, 1)])
    func convolutionOnTinyPlanesMatchesTheDefinition(height: Int, width: Int, kernel: Int, padding: Int) {
        var rng = SeededGenerator(seed: 7)
        let conv = Conv2D(2, 3, kernelSize: kernel, padding: padding, rng: &rng)
        let x = GradientCheck.input([2, 2, height, width])
        let y = conv.forward(x, mode: .training), expected = Self.directConvolution(conv, x)
        #expect(zip(y.scalars, expected.scalars).allSatisfy { abs($0 - $1) < 1e-5 }, "\(y) vs \(expected)")
        #expect(GradientCheck.check(conv, input: x).worst < Self.tolerance)
    }

    /// Sample chunks of one, of two (3 = 2 + 1) and the whole batch give the same output and gradients.
    @Test(arguments: [(1, 1, 1), (1, 1, 0), (2, 1, 1)])
    func convolutionInSampleChunksMatchesTheWholeBatch(samplesPerChunk: Int, stride: Int, padding: Int) {
        var rng = SeededGenerator(seed: 31)
        let whole = Conv2D(3, 4, kernelSize: 3, stride: stride, padding: padding, rng: &rng)
        var rng2 = SeededGenerator(seed: 31)
        let chunked = Conv2D(3, 4, kernelSize: 3, stride: stride, padding: padding, rng: &rng2)
        let x = GradientCheck.input([3, 3, 7, 6], seed: 32)
        let plane = ((7 + 2 * padding - 3) / stride + 1) * ((6 + 2 * padding - 3) / stride + 1)
        chunked.chunkFloats = samplesPerChunk * 27 * plane
        #expect(ConvolutionScratch.chunks(batch: 3, geometry: chunked.geometry(height: 7, width: 6), floats: chunked.chunkFloats).count
                == (samplesPerChunk == 1 ? 3 : 2))
        let y = whole.forward(x, mode: .training), yc = chunked.forward(x, mode: .training)
        let direct = Self.directConvolution(whole, x)
        #expect(zip(yc.scalars, direct.scalars).allSatisfy { abs($0 - $1) < 1e-5 } && zip(y.scalars, yc.scalars).allSatisfy { abs($0 - $1) < 1e-5 })
        var rng3 = SeededGenerator(seed: 33)
        let dy = Tensor.uniform(y.shape, bound: 1, using: &rng3)
        let dx = whole.backward(dy, propagate: true)!, dxc = chunked.backward(dy, propagate: true)!
        #expect(zip(dx.scalars, dxc.scalars).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(zip(whole.weight.gradient.scalars, chunked.weight.gradient.scalars).allSatisfy { abs($0 - $1) < 1e-4 })
        #expect(zip(whole.bias!.gradient.scalars, chunked.bias!.gradient.scalars).allSatisfy { abs($0 - $1) < 1e-4 })
        #expect(GradientCheck.check(chunked, input: x).worst < Self.tolerance)
    }

    @Test func perturbativeForwardMatchesADirectLoopAndBackwardMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 11)
        let layer = Perturbative(2, 3, masks: 2, noiseLevel: 0.3, rng: &rng)
        let x = GradientCheck.input([2, 2, 3, 4], seed: 12)
        let y = layer.forward(x, mode: .training)
        let noise = layer.noiseMaps(height: 3, width: 4)
        for n in 0..<2 { for c in 0..<3 { for i in 0..<12 {
            var z = layer.bias!.value[c]
            for m in 0..<4 { z += layer.weight.value[c * 4 + m] * max(0, x[(n * 2 + m / 2) * 12 + i] + noise[m * 12 + i]) }
            #expect(abs(y[(n * 3 + c) * 12 + i] - z) < 1e-5)
        } } }
        #expect(layer.noiseMaps(height: 3, width: 4) == noise, "the noise maps are fixed")
        // ReLU kinks: a small step keeps every perturbation on one side of them.
        let report = GradientCheck.check(layer, input: x, epsilon: 1e-3)
        #expect(report.worst < Self.tolerance, "\(report)")
    }

    @Test func residual() {
        var rng = SeededGenerator(seed: 4)
        let identity = Residual(body: [Conv2D(2, 3, kernelSize: 3, padding: 1, rng: &rng), Activation(.tanh),
                                       Conv2D(3, 2, kernelSize: 3, padding: 1, rng: &rng)])
        let projected = Residual(body: [Conv2D(2, 3, kernelSize: 3, stride: 2, padding: 1, rng: &rng), Activation(.tanh)],
                                 shortcut: [Conv2D(2, 3, kernelSize: 1, stride: 2, rng: &rng)])
        for layer in [identity, projected] {
            let report = GradientCheck.check(layer, input: GradientCheck.input([2, 2, 5, 5]))
            #expect(report.worst < Self.tolerance, "\(layer.summary): \(report)")
        }
    }

    @Test(arguments: [(1, 1), (2, 1), (2, 0), (1, 0), (3, 2)])
    func conv2D(stride: Int, padding: Int) {
        var rng = SeededGenerator(seed: 2)
        let conv = Conv2D(2, 3, kernelSize: 3, stride: stride, padding: padding, rng: &rng)
        let report = GradientCheck.check(conv, input: GradientCheck.input([2, 2, 7, 6]))
        #expect(report.worst < Self.tolerance, "stride \(stride) padding \(padding): \(report)")
    }

    @Test(arguments: [(2, 2, 0), (3, 2, 1), (3, 3, 0), (2, 1, 0)])
    func maxPool(kernel: Int, stride: Int, padding: Int) {
        // Piecewise linear: a small step keeps every perturbation inside one window's arg-max.
        let report = GradientCheck.check(MaxPool2D(kernelSize: kernel, stride: stride, padding: padding),
                                         input: GradientCheck.input([2, 2, 7, 5]), epsilon: 1e-3)
        #expect(report.worst < Self.tolerance, "\(report)")
    }

    @Test(arguments: [(2, 2, 0), (3, 2, 1), (3, 2, 0)])
    func avgPool(kernel: Int, stride: Int, padding: Int) {
        let report = GradientCheck.check(AvgPool2D(kernelSize: kernel, stride: stride, padding: padding),
                                         input: GradientCheck.input([2, 2, 7, 5]))
        #expect(report.worst < Self.tolerance, "\(report)")
    }

    @Test(arguments: [(3, 2), (2, 2), (4, 7), (1, 1)])
    func adaptiveAvgPool(outputHeight: Int, outputWidth: Int) {
        // 7×5 input: non-divisible sizes give overlapping windows; 4×7 upsamples the width.
        let report = GradientCheck.check(AdaptiveAvgPool2D(outputHeight: outputHeight, outputWidth: outputWidth),
                                         input: GradientCheck.input([2, 3, 7, 5]))
        #expect(report.worst < Self.tolerance, "\(report)")
    }

    @Test func adaptiveAvgPoolWindowsMatchPyTorch() {
        // PyTorch: start = ⌊i·n/out⌋, end = ⌈(i+1)·n/out⌉.
        #expect((0..<2).map { AdaptiveAvgPool2D.window($0, outputs: 2, inputs: 7) } .map { [$0.0, $0.1] } == [[0, 4], [3, 7]])
        #expect((0..<3).map { AdaptiveAvgPool2D.window($0, outputs: 3, inputs: 2) } .map { [$0.0, $0.1] } == [[0, 1], [0, 2], [1, 2]])
        let pool = AdaptiveAvgPool2D(outputHeight: 1, outputWidth: 2)
        let x = Tensor(shape: [1, 1, 1, 3], scalars: [1, 2, 4])
        #expect(pool.forward(x, mode: .evaluation).scalars == [1.5, 3])
    }

    @Test(arguments: [[4, 6], [3, 4, 3, 2]])
    func batchNormTraining(shape: [Int]) {
        let bn = BatchNorm(channels: shape[1])
        var rng = SeededGenerator(seed: 5)
        bn.scale.value = .uniform([shape[1]], bound: 2, using: &rng)
        bn.shift.value = .uniform([shape[1]], bound: 1, using: &rng)
        let report = GradientCheck.check(bn, input: GradientCheck.input(shape), epsilon: 1e-2)
        #expect(report.worst < Self.tolerance, "\(report)")
    }

    @Test func batchNormStatistics() {
        let bn = BatchNorm(channels: 2, momentum: 0.1)
        // Channel 0 holds 1, 3 (mean 2, biased var 1, unbiased 2); channel 1 holds 0, 0.
        let x = Tensor(shape: [2, 2], scalars: [1, 0, 3, 0])
        let y = bn.forward(x, mode: .training)
        #expect(abs(y[0] + 1) < 1e-4 && abs(y[2] - 1) < 1e-4)
        #expect(abs(bn.runningMean[0] - 0.2) < 1e-6)
        #expect(abs(bn.runningVariance[0] - (0.9 + 0.1 * 2)) < 1e-6)
        // Evaluation uses the running statistics: (1 − 0.2)/√(1.1 + 1e-5).
        let e = bn.forward(Tensor(shape: [1, 2], scalars: [1, 0]), mode: .evaluation)
        #expect(abs(e[0] - 0.8 / (1.1 + 1e-5).squareRoot()) < 1e-5)
    }

    @Test(arguments: [ActivationFunction.relu, .leakyReLU(slope: 0.1), .tanh, .sigmoid, .elu(alpha: 1), .identity])
    func activation(_ function: ActivationFunction) {
        let report = GradientCheck.check(Activation(function), input: GradientCheck.input([3, 11], awayFromZeroBy: 0.05),
                                         epsilon: 1e-2)
        #expect(report.worst < Self.tolerance, "\(function.name): \(report)")
    }

    @Test func signForwardAndBackwardChoices() {
        let x = Tensor(shape: [1, 4], scalars: [-2, -0.5, 0, 3])
        let dy = Tensor(shape: [1, 4], scalars: [1, 2, 3, 4])
        let zero = Activation(.sign(backward: .zero))
        #expect(zero.forward(x, mode: .training).scalars == [-1, -1, 0, 1])
        #expect(zero.backward(dy, propagate: true)!.scalars == [0, 0, 0, 0])
        let ste = Activation(.sign(backward: .straightThrough))
        _ = ste.forward(x, mode: .training)
        #expect(ste.backward(dy, propagate: true)!.scalars == [1, 2, 3, 4])
    }

    @Test func flattenRoundTrip() {
        let flatten = Flatten()
        let x = GradientCheck.input([2, 3, 2, 2])
        #expect(flatten.forward(x, mode: .training).shape == [2, 12])
        #expect(flatten.backward(Tensor(shape: [2, 12], repeating: 1), propagate: true)!.shape == [2, 3, 2, 2])
    }

    @Test func dropoutMasksAndScales() {
        var rng = SeededGenerator(seed: 3)
        let dropout = Dropout(probability: 0.25, rng: &rng)
        let x = Tensor(shape: [10, 100], repeating: 1)
        let y = dropout.forward(x, mode: .training)
        let kept = y.scalars.filter { $0 != 0 }
        #expect(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
        #expect(abs(Double(kept.count) / 1000 - 0.75) < 0.05)
        // Backward is the same mask: dy = 1 gives back y.
        #expect(dropout.backward(x, propagate: true)!.scalars == y.scalars)
        #expect(dropout.forward(x, mode: .evaluation).scalars == x.scalars)
        // A new step draws a new mask.
        #expect(dropout.forward(x, mode: .training).scalars != y.scalars)
    }
}

@Suite("Losses")
struct LossTests {
    @Test func softmaxCrossEntropyValueAndGradient() {
        let logits = Tensor(shape: [2, 3], scalars: [1, 2, 3, 0, 0, 0])
        let result = SoftmaxCrossEntropy()(logits, labels: [2, 0])
        let expected = (-log(exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0))) + log(3.0)) / 2
        #expect(abs(Double(result.loss) - expected) < 1e-5)
        // Finite differences on the loss itself.
        for i in 0..<6 {
            var plus = logits, minus = logits
            plus[i] += 1e-2
            minus[i] -= 1e-2
            let numeric = (SoftmaxCrossEntropy()(plus, labels: [2, 0]).loss - SoftmaxCrossEntropy()(minus, labels: [2, 0]).loss) / 2e-2
            #expect(abs(numeric - result.gradient[i]) < 1e-3)
        }
        #expect(SoftmaxCrossEntropy.correctCount(logits, labels: [2, 0]) == 2)
    }

    @Test func crossEntropyIsStableForLargeLogits() {
        let result = SoftmaxCrossEntropy()(Tensor(shape: [1, 2], scalars: [1000, 0]), labels: [1])
        #expect(abs(result.loss - 1000) < 1e-2)
        #expect(result.gradient.isFinite)
    }

    @Test func meanSquaredError() {
        let p = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        let t = Tensor(shape: [2, 2], scalars: [0, 2, 5, 4])
        let result = MeanSquaredError()(p, target: t)
        #expect(result.loss == 5.0 / 4)
        #expect(result.gradient.scalars == [0.5, 0, -1, 0])
    }
}

import Foundation
