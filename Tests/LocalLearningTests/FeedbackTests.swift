import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("The caller-chosen feedback matrix of weighted layers")
struct FeedbackTests {
    func layers() -> [(WeightedLayer, Tensor)] {
        var rng = SeededGenerator(seed: 11)
        return [
            (Linear(6, 4, rng: &rng), GradientCheck.input([3, 6])),
            (Conv2D(2, 3, kernelSize: 3, stride: 2, padding: 1, rng: &rng), GradientCheck.input([2, 2, 6, 5])),
        ]
    }

    @Test func ownWeightsAsFeedbackReproduceTheDefaultBackwardExactly() {
        for (layer, x) in layers() {
            var rng = SeededGenerator(seed: 4)
            let y = layer.forward(x, mode: .training)
            let dy = Tensor.uniform(y.shape, bound: 1, using: &rng)
            let plain = layer.backward(dy, propagate: true)!
            let plainGradients = layer.parameters.map(\.gradient)
            let viaFeedback = layer.backward(dy, feedback: layer.weight.value, propagate: true)!
            #expect(plain.scalars == viaFeedback.scalars, "\(layer.summary)")
            #expect(layer.parameters.map(\.gradient) == plainGradients, "\(layer.summary)")
        }
    }

    @Test func anotherMatrixCarriesTheSignalAndLeavesWeightGradientsExact() {
        for (layer, x) in layers() {
            var rng = SeededGenerator(seed: 5)
            let y = layer.forward(x, mode: .training)
            let dy = Tensor.uniform(y.shape, bound: 1, using: &rng)
            let exact = layer.backward(dy, propagate: true)!
            let exactGradients = layer.parameters.map(\.gradient)
            let b = Tensor.uniform(layer.weight.value.shape, bound: 1, using: &rng)
            let viaB = layer.backward(dy, feedback: b, propagate: true)!
            #expect(layer.parameters.map(\.gradient) == exactGradients, "weight gradients must not depend on the feedback")
            #expect(viaB.scalars != exact.scalars)
            // Backward through B is the backward of the same layer whose weights are B.
            let saved = layer.weight.value
            layer.weight.value = b
            _ = layer.forward(x, mode: .training)
            let reference = layer.backward(dy, propagate: true)!
            layer.weight.value = saved
            #expect(zip(viaB.scalars, reference.scalars).allSatisfy { abs($0 - $1) < 1e-5 }, "\(layer.summary)")
        }
    }

    @Test func linearFeedbackIsTheMatrixProduct() {
        var rng = SeededGenerator(seed: 6)
        let layer = Linear(3, 2, rng: &rng)
        _ = layer.forward(Tensor(shape: [1, 3], repeating: 1), mode: .training)
        let b = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let dx = layer.backward(Tensor(shape: [1, 2], scalars: [1, -1]), feedback: b, propagate: true)!
        #expect(dx.scalars == [-3, -3, -3])
    }
}
