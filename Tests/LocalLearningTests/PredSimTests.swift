import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("PredSim: prediction and similarity-matching losses")
struct PredSimTests {
    /// Central differences of `loss` at every entry of `x`.
    static func numeric(_ x: Tensor, _ loss: (Tensor) -> Float, step: Float = 1e-2) -> [Double] {
        (0..<x.count).map { index in
            var up = x.scalars, down = x.scalars
            up[index] += step
            down[index] -= step
            return Double(loss(Tensor(shape: x.shape, scalars: up)) - loss(Tensor(shape: x.shape, scalars: down))) / Double(2 * step)
        }
    }

    @Test func similarityLossGradientMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 3)
        let features = Tensor.uniform([6, 5], bound: 1, using: &rng)
        let labels: [Int32] = [0, 1, 0, 2, 1, 0]
        let (loss, gradient) = PredSim.similarityLoss(features, labels: labels)
        #expect(loss > 0)
        let numeric = Self.numeric(features) { PredSim.similarityLoss($0, labels: labels).loss }
        #expect(GradientCheck.relativeError(gradient.scalars, numeric) < 1e-2)
    }

    @Test func similarityIsZeroWhenSamplesAlignWithTheirClass() {
        // Centred class prototypes that are orthogonal: cosine 1 within a class, 0 across.
        let a: [Float] = [1, -1, 0, 0], b: [Float] = [0, 0, 1, -1]
        let features = Tensor(shape: [4, 4], scalars: a + b + a.map { $0 * 2 } + b)
        #expect(PredSim.similarityLoss(features, labels: [0, 1, 0, 1]).loss < 1e-10)
        #expect(PredSim.similarityLoss(features, labels: [0, 1, 1, 0]).loss > 0.2)
    }

    @Test func channelDeviationsBackwardMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 5)
        let x = Tensor.uniform([2, 3, 2, 2], bound: 1, using: &rng)
        let weights = Tensor.uniform([2, 3], bound: 1, using: &rng)
        func loss(_ x: Tensor) -> Float { zip(PredSim.channelDeviations(x).0.scalars, weights.scalars).reduce(0) { $0 + $1.0 * $1.1 } }
        let analytic = PredSim.channelDeviations(x).1(weights)
        #expect(GradientCheck.relativeError(analytic.scalars, Self.numeric(x, loss, step: 1e-3)) < 1e-2)
    }

    @Test func eachUnitsSignalIsTheWeightedSumOfItsTwoLosses() throws {
        let model = try ModelSpec.build("cnn:4,M,8,A1:fc8:relu", inputShape: [1, 4, 4], classes: 3, seed: 2)
        let data = TrainingTests.blobs(count: 24, seed: 4)
        let onlyPrediction = PredSim(.init(beta: 0), seed: 1), both = PredSim(seed: 1)
        onlyPrediction.prepare(model)
        both.prepare(model)
        let activation = model.blocks[0].forward(data.images, mode: .training)
        var state = LocalStepState()
        let (predictionLoss, _) = onlyPrediction.unitLoss(block: 0, activation: activation, labels: data.labels, state: &state, model: model)
        let (combined, parameters) = both.unitLoss(block: 0, activation: activation, labels: data.labels, state: &state, model: model)
        let similarity = try #require(both.similarity[0])
        let projected = PredSim.channelDeviations(similarity.forward(activation, mode: .evaluation)).0
        let simLoss = PredSim.similarityLoss(projected, labels: data.labels).loss
        #expect(abs(combined.loss - (0.01 * predictionLoss.loss + 0.99 * simLoss)) < 1e-5)
        #expect(parameters.count == both.predictors[0].parameters.count + 1)
    }
}
