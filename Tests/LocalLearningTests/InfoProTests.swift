import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("InfoPro: task head and reconstruction decoder")
struct InfoProTests {
    @Test func bilinearUpsamplingMatchesPyTorchAndItsBackwardIsTheAdjoint() {
        let up = BilinearUpsample(height: 4, width: 4)
        let x = Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4])
        let y = up.forward(x, mode: .training)
        // torch.nn.functional.interpolate(x, size=4, mode="bilinear", align_corners=False)
        #expect(Array(y.scalars[0..<4]) == [1, 1.25, 1.75, 2])
        #expect(Array(y.scalars[4..<8]) == [1.5, 1.75, 2.25, 2.5])
        // ⟨up(x), g⟩ = ⟨x, upᵀ(g)⟩.
        var rng = SeededGenerator(seed: 2)
        let x2 = Tensor.uniform([2, 3, 3, 5], bound: 1, using: &rng), g = Tensor.uniform([2, 3, 7, 8], bound: 1, using: &rng)
        let resize = BilinearUpsample(height: 7, width: 8)
        let forward = resize.forward(x2, mode: .training)
        let back = resize.backward(g, propagate: true)!
        let left = zip(forward.scalars, g.scalars).reduce(0) { $0 + Double($1.0 * $1.1) }
        let right = zip(x2.scalars, back.scalars).reduce(0) { $0 + Double($1.0 * $1.1) }
        #expect(abs(left - right) < 1e-4 * max(1, abs(left)))
    }

    @Test func reconstructionLossGradientMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 4)
        let logits = Tensor.uniform([2, 1, 2, 3], bound: 2, using: &rng), image = Tensor.uniform([2, 1, 2, 3], bound: 3, using: &rng)
        let (_, gradient) = InfoPro.reconstructionLoss(logits, image: image)
        let numeric = PredSimTests.numeric(logits, { InfoPro.reconstructionLoss($0, image: image).loss }, step: 1e-2)
        #expect(GradientCheck.relativeError(gradient.scalars, numeric) < 1e-2)
    }

    @Test func weightsMoveFromReconstructionToTheTask() {
        #expect(InfoPro.weights(0, of: 15) == (5, 0.05))
        let last = InfoPro.weights(14, of: 15)
        #expect(abs(last.reconstruction - 0.2) < 1e-6 && abs(last.task - 0.5) < 1e-6)
    }

    @Test func headsFollowTheReferenceWidths() throws {
        let model = try ModelSpec.build("resnet:1", inputShape: [3, 16, 16], classes: 10, seed: 1)
        let rule = InfoPro()
        rule.prepare(model)
        let widths = rule.heads.map { ($0.layers[0] as! Conv2D).outChannels }
        let strides = rule.heads.map { ($0.layers[0] as! Conv2D).stride }
        #expect(widths == [32, 32, 64] && strides == [2, 2, 2], "\(widths) \(strides)")
        #expect(rule.decoders.allSatisfy { ($0.last as! Conv2D).outChannels == 3 })
    }
}
