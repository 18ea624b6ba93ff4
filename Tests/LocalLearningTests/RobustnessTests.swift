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

@Suite("compare --robustness")
struct CompareRobustnessTests {
    /// Each run's final weights are attacked: the table has a column per attack and budget, the
    /// clean column is the saved weights' accuracy on those samples, and stronger attacks never help.
    @Test func compareAttacksEachRunsFinalWeights() throws {
        let folder = try CLI.temporaryFolder("compare-robustness")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try CLI.run(["compare", "--rules", "bp,fa", "--epochs", "1", "--model", "mlp:784-16-10:relu", "--threads", "1",
                                  "--robustness", "--robustness-eps", "4/255,8/255", "--robustness-limit", "200", "--out", folder], timeout: 300)
        #expect(result.status == 0, "\(result.errors)")
        let table = try String(contentsOfFile: "\(folder)/results.md", encoding: .utf8)
        #expect(table.contains("| rule | clean | fgsm 4/255 | fgsm 8/255 | pgd 4/255 | pgd 8/255 | noise 4/255 | noise 8/255 |"), "\(table)")
        for rule in ["bp", "fa"] {
            let records = try RobustnessTable.read("\(folder)/\(rule).robustness.json")
            func accuracy(_ attack: String, _ eps: String) -> Double { records.first { $0.attack == attack && $0.epsilon == eps }!.accuracy }
            #expect(accuracy("fgsm", "8/255") <= accuracy("fgsm", "4/255") + 1e-9 && accuracy("fgsm", "4/255") <= accuracy("clean", "0"))
            #expect(accuracy("pgd", "8/255") <= accuracy("fgsm", "8/255") + 0.02, "PGD at least about as strong as FGSM")
            #expect(table.contains(String(format: "| %@ | %.2f%% |", rule, accuracy("clean", "0") * 100)), "\(table)")
        }
        let bad = try CLI.run(["compare", "--rules", "bp", "--robustness", "--robustness-eps", "2/0x"], timeout: 60)
        #expect(bad.status == 64 && bad.errors.contains("--eps must be numbers or fractions"), "\(bad.errors)")
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
