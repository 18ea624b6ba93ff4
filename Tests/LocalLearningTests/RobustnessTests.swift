import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Robustness: exact input gradients, FGSM, PGD")
struct RobustnessTests {
    /// A small CNN with BatchNorm and dropout, trained a few steps so BatchNorm's running statistics are not the initial ones.
    static func trainedModel() throws -> (Model, Dataset) {
        var rng = SeededGenerator(seed: 3)
        let data = TrainingTests.blobs(count: 64, seed: 1)
        let pixels = Dataset(name: "blobs", images: data.images.mapped { min(max(0.5 + 0.2 * $0, 0), 1) }, labels: data.labels, classes: 3)
        let model = try ModelSpec.build("cnn:4,A2:fc8:dropout0.2", inputShape: data.sampleShape, classes: 3, seed: 2)
        for _ in 0..<20 {
            _ = Backprop().step(model: model, batch: Batch(images: pixels.images, labels: pixels.labels), optimizer: Adam(learningRate: 0.02))
        }
        _ = rng.nextUniform()
        return (model, pixels)
    }

    @Test func theInputGradientIsTheEvaluatedNetworksOwn() throws {
        let (model, data) = try Self.trainedModel()
        let standardization = Standardization(mean: [0.4], standardDeviation: [0.3])
        let x = data.prefix(6)
        func loss(_ pixels: Tensor) -> Double {
            let logits = model.forward(Robustness.prepared(pixels, standardization), mode: .evaluation)
            return Double(SoftmaxCrossEntropy()(logits, labels: x.labels).loss)
        }
        let statistics = model.layers.compactMap { $0 as? BatchNorm }.map(\.runningStatistics.mean)
        let analytic = Robustness.lossAndInputGradient(model, pixels: x.images, labels: x.labels, standardization: standardization)
        #expect(model.layers.compactMap { $0 as? BatchNorm }.map(\.runningStatistics.mean) == statistics, "frozen mode leaves the statistics alone")
        #expect(abs(Double(analytic.loss) - loss(x.images)) < 1e-6, "frozen forward = evaluation forward")
        var worst = 0.0, scale = 1e-3
        for i in stride(from: 0, to: x.images.count, by: 5) {
            var plus = x.images, minus = x.images
            plus[i] += 1e-3
            minus[i] -= 1e-3
            let numeric = (loss(plus) - loss(minus)) / 2e-3
            worst = max(worst, abs(numeric - Double(analytic.gradient[i])))
            scale = max(scale, abs(numeric))
        }
        #expect(worst / scale < 2e-2, "relative error \(worst / scale)")
    }

    @Test func attacksStayInTheBallAndPGDIsAtLeastAsStrongAsFGSM() throws {
        let (model, data) = try Self.trainedModel()
        var rng = SeededGenerator(seed: 5)
        let epsilon: Float = 0.1
        let clean = Robustness.evaluate(model, on: data, attack: nil, epsilon: 0, standardization: nil, batchSize: 64)
        var results: [Robustness.Attack: Evaluation.Result] = [:]
        for attack in Robustness.Attack.allCases {
            let attacked = Robustness.attack(attack, model: model, pixels: data.images, labels: data.labels, epsilon: epsilon,
                                             standardization: nil, rng: &rng)
            #expect(attacked.scalars.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(attack) leaves [0, 1]")
            if attack != .noise {
                #expect(zip(attacked.scalars, data.images.scalars).allSatisfy { abs($0 - $1) <= epsilon + 1e-6 }, "\(attack) leaves the ε-ball")
            }
            results[attack] = Robustness.evaluate(model, on: data, attack: attack, epsilon: epsilon, standardization: nil, batchSize: 64)
        }
        #expect(results[.fgsm]!.loss > clean.loss, "FGSM raises the loss: \(results[.fgsm]!.loss) vs \(clean.loss)")
        #expect(results[.pgd]!.loss >= results[.fgsm]!.loss, "PGD \(results[.pgd]!.loss) vs FGSM \(results[.fgsm]!.loss)")
        #expect(results[.pgd]!.accuracy <= results[.fgsm]!.accuracy + 1e-9)
    }
}

@Suite("Top-5 accuracy and the confusion matrix")
struct ConfusionTests {
    @Test func topKAndConfusionCountWhatTheyShould() throws {
        let logits = Tensor(shape: [2, 6], scalars: [0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0])
        #expect(Evaluation.topKCount(logits, labels: [1, 1], k: 5) == 2 && Evaluation.topKCount(logits, labels: [0, 5], k: 5) == 0)
        let data = TrainingTests.blobs(count: 60, seed: 3)
        let model = try ModelSpec.build("mlp:16-8-3:tanh", inputShape: data.sampleShape, classes: 3, seed: 1)
        let matrix = Evaluation.confusionMatrix(model, on: data, batchSize: 16)
        #expect(matrix.map { $0.reduce(0, +) } == [20, 20, 20], "a row per true class")
        let diagonal = (0..<3).reduce(0) { $0 + matrix[$1][$1] }
        #expect(Double(diagonal) / 60 == Evaluation.evaluate(model, on: data, batchSize: 16).accuracy)
        #expect(Evaluation.evaluate(model, on: data).top5Accuracy == nil, "top-5 only beyond 10 classes")
        let svg = SVGChart.confusion(title: "m", matrix: matrix)
        #expect(svg.components(separatedBy: "<rect").count - 1 == 9 && svg.contains("true class") && !svg.contains("<script"))
    }
}
