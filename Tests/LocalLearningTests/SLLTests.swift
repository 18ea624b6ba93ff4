import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("SLL: Bhattacharyya objective, projections, units")
struct SLLTests {
    static func logits(_ rows: Int, _ k: Int, seed: UInt64, scale: Float = 2) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        return Tensor.uniform([rows, k], bound: scale, using: &rng)
    }

    static func kl(_ a: Tensor, _ b: Tensor) -> Double {
        // mean over rows of KL(softmax a ‖ softmax b)
        let (rows, k) = (a.shape[0], a.shape[1])
        var total = 0.0
        for r in 0..<rows {
            let x = (0..<k).map { Double(a[r * k + $0]) }, y = (0..<k).map { Double(b[r * k + $0]) }
            let lx = log(x.map(exp).reduce(0, +)), ly = log(y.map(exp).reduce(0, +))
            for i in 0..<k { total += exp(x[i] - lx) * ((x[i] - lx) - (y[i] - ly)) }
        }
        return total / Double(rows)
    }

    @Test func bhattacharyyaDistanceProperties() {
        let a = Self.logits(5, 7, seed: 1), b = Self.logits(5, 7, seed: 2)
        #expect(abs(Bhattacharyya.distance(logits: a, priorLogits: a).loss) < 1e-6)
        #expect(Bhattacharyya.distance(logits: a, priorLogits: a).gradient.scalars.allSatisfy { abs($0) < 1e-7 })
        let ab = Double(Bhattacharyya.distance(logits: a, priorLogits: b).loss)
        let ba = Double(Bhattacharyya.distance(logits: b, priorLogits: a).loss)
        #expect(ab > 0.01 && abs(ab - ba) < 1e-6)
        #expect(ab <= 0.5 * Self.kl(a, b) + 1e-6 && ab <= 0.5 * Self.kl(b, a) + 1e-6)
        // Shifting logits by a constant leaves the distributions, and the distance, unchanged.
        #expect(abs(Double(Bhattacharyya.distance(logits: a.mapped { $0 + 50 }, priorLogits: b).loss) - ab) < 1e-5)
    }

    @Test func bhattacharyyaGradientMatchesFiniteDifferences() {
        let a = Self.logits(3, 5, seed: 3), b = Self.logits(3, 5, seed: 4)
        let analytic = Bhattacharyya.distance(logits: a, priorLogits: b).gradient
        var x = a
        var numeric = [Double](repeating: 0, count: x.count)
        let h: Float = 1e-2
        for i in 0..<x.count {
            let original = x[i]
            x[i] = original + h; let plus = Double(Bhattacharyya.distance(logits: x, priorLogits: b).loss)
            x[i] = original - h; let minus = Double(Bhattacharyya.distance(logits: x, priorLogits: b).loss)
            x[i] = original
            numeric[i] = (plus - minus) / Double(2 * h)
        }
        #expect(GradientCheck.relativeError(analytic.scalars, numeric) < 1e-2)
    }

    @Test func projectionDropoutChangesEveryStepAndIsOffAtEvaluation() throws {
        let model = try ModelSpec.build("mlp:16-12-3:relu", inputShape: [1, 4, 4], classes: 3)
        let sll = SLL(.init(dropout: 0.5))
        sll.prepare(model)
        let fixed = sll.projections[0]!
        #expect(fixed.shape == [3, 12])
        let (first, second) = (sll.projection(0, training: true), sll.projection(0, training: true))
        #expect(first != second)
        #expect(first.scalars.contains(0) && first.scalars.contains { $0 == 2 * fixed.scalars[first.scalars.firstIndex(of: $0)!] })
        #expect(sll.projection(0, training: false) == fixed)
    }

    @Test func projectionDistributionsHaveTheVarianceOfTheirScale() throws {
        let model = try ModelSpec.build("mlp:400-300-3:relu", inputShape: [400], classes: 3)
        for distribution in SLL.ProjectionDistribution.allCases {
            let sll = SLL(.init(codes: 20, distribution: distribution, scale: 2))
            sll.prepare(model)
            let r = sll.projections[0]!.scalars  // 20 × 300
            let variance = r.reduce(0) { $0 + Double($1 * $1) } / Double(r.count)
            #expect(abs(variance * 300 / 4 - 1) < 0.05, "\(distribution): \(variance * 300 / 4)")
            let zeros = Double(r.filter { $0 == 0 }.count) / Double(r.count)
            switch distribution {
            case .gaussian: #expect(zeros == 0)
            case .rademacher: #expect(r.allSatisfy { abs(abs($0) - 2 / Float(300).squareRoot()) < 1e-6 })
            case .sparse: #expect(abs(zeros - 2.0 / 3) < 0.02)
            }
        }
    }

    @Test func uniformInputPriorDrawsNoInputProjection() throws {
        let data = TrainingTests.blobs(count: 32, seed: 1)
        let model = try ModelSpec.build("mlp:16-12-10-3:relu", inputShape: data.sampleShape, classes: 3, seed: 1)
        let uniform = SLL(.init(inputPrior: .uniform)), projected = SLL()
        uniform.prepare(model); projected.prepare(model)
        #expect(uniform.projections[-1] == nil && projected.projections[-1] != nil)
        #expect(uniform.projections[0] == projected.projections[0])
        let batch = Batch(images: data.images, labels: data.labels)
        let prior = uniform.beginStep(batch, model: model).tensors[SLL.priorKey]!
        #expect(prior.shape == [32, 3] && prior.scalars.allSatisfy { $0 == 0 })
        // The first block's loss is then CE + λ·D_B(q, uniform): a different update from the projected prior's.
        func firstBlock(_ rule: SLL) throws -> [Tensor] { try Self.firstBlockAfterOneStep("mlp:16-12-10-3:relu", rule: rule, seed: 1) }
        #expect(try firstBlock(SLL(.init(dropout: 0, inputPrior: .uniform))) != firstBlock(SLL(.init(dropout: 0))))
        #expect(try firstBlock(SLL(.init(dropout: 0, inputPrior: .uniform))) == firstBlock(SLL(.init(dropout: 0, inputPrior: .uniform))))
    }

    @Test func projectionsScaleAsAskedAndCanReadTheBlockOutput() throws {
        let model = try ModelSpec.build("cnn:8,M,16,A2:fc32", inputShape: [1, 8, 8], classes: 3, seed: 1)
        func projection(_ configuration: SLL.Configuration) -> Tensor {
            let rule = SLL(configuration)
            rule.prepare(model)
            return rule.projections[0]!
        }
        let unit = projection(.init(codes: 4, tap: .beforePooling)), jl = projection(.init(codes: 4, scaleMode: .jl, tap: .beforePooling))
        // conv1's activation is 8×8×8 = 512 values: JL codes are √(512/4) larger.
        #expect(unit.shape == [4, 512])
        #expect(zip(unit.scalars, jl.scalars).allSatisfy { abs($1 - $0 * Float(128).squareRoot()) <= 1e-4 * abs($1) + 1e-6 })
        // After the 2×2 pool (the default) the projection reads 8×4×4 values.
        #expect(projection(.init(codes: 4)).shape == [4, 128])
        let step = try Self.firstBlockAfterOneStep("cnn:8,M,16,A2:fc32", rule: SLL(.init(dropout: 0)))
        #expect(step != (try Self.firstBlockAfterOneStep("cnn:8,M,16,A2:fc32", rule: SLL(.init(dropout: 0, tap: .beforePooling)))))
    }

    @Test func theTapChangesNothingWhereABlockHasNoPooling() throws {
        // In a fully connected chain a block's activation is its output: both taps read the same tensor.
        let spec = "mlp:16-12-10-3:relu:bn"
        let after = try Self.firstBlockAfterOneStep(spec, rule: SLL(.init(tap: .afterPooling), seed: 3))
        #expect(after == (try Self.firstBlockAfterOneStep(spec, rule: SLL(.init(tap: .beforePooling), seed: 3))))
        #expect(after != (try Self.firstBlockAfterOneStep(spec, rule: SLL(.init(tap: .afterPooling), seed: 4))), "the seed must matter")
    }

    @Test func localLossGradientMatchesFiniteDifferences() throws {
        let sll = SLL(.init(codes: 6))
        let prior = Self.logits(4, 6, seed: 5), codes = Self.logits(4, 6, seed: 6)
        let labels: [Int32] = [0, 2, 1, 2]
        let analytic = sll.localLoss(codes: codes, prior: prior, labels: labels, classes: 3).gradient
        var x = codes
        var numeric = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let original = x[i]
            x[i] = original + 1e-2; let plus = Double(sll.localLoss(codes: x, prior: prior, labels: labels, classes: 3).loss)
            x[i] = original - 1e-2; let minus = Double(sll.localLoss(codes: x, prior: prior, labels: labels, classes: 3).loss)
            x[i] = original
            numeric[i] = (plus - minus) / 2e-2
        }
        #expect(GradientCheck.relativeError(analytic.scalars, numeric) < 1e-2)
    }

    static func firstBlockAfterOneStep(_ spec: String, rule: LearningRule, seed: UInt64 = 4) throws -> [Tensor] {
        let data = TrainingTests.blobs(count: 32, seed: 1)
        let model = try ModelSpec.build(spec, inputShape: data.sampleShape, classes: 3, seed: seed)
        _ = rule.step(model: model, batch: Batch(images: data.images, labels: data.labels), optimizer: SGD(learningRate: 0.1))
        return model.blocks[0].parameters.map(\.value) + model.blocks[1].parameters.map(\.value)
    }

    @Test func noGradientCrossesUnitsAndBackpropRunsInsideThem() throws {
        let short = "mlp:16-12-10-3:relu:bn", long = "mlp:16-12-10-20-7-3:relu:bn"
        #expect(try Self.firstBlockAfterOneStep(short, rule: SLL(seed: 2)) == Self.firstBlockAfterOneStep(long, rule: SLL(seed: 2)))
        let unit = SLL(.init(unitSize: 2), seed: 2)
        #expect(try Self.firstBlockAfterOneStep(short, rule: unit) == Self.firstBlockAfterOneStep(long, rule: SLL(.init(unitSize: 2), seed: 2)))
        // With both hidden blocks in one unit, block 1's loss trains block 0 too: a different update.
        #expect(try Self.firstBlockAfterOneStep(short, rule: SLL(seed: 2)) != Self.firstBlockAfterOneStep(short, rule: SLL(.init(unitSize: 2), seed: 2)))
        #expect(LocalTraining.units(of: try ModelSpec.build(long, inputShape: [16], classes: 3), size: 2) == [0...1, 2...3])
    }

    @Test func sameSeedSameRunDifferentSeedDifferentRun() throws {
        func train(_ seed: UInt64) throws -> [Tensor] {
            let data = TrainingTests.blobs(count: 96, seed: 1)
            let model = try ModelSpec.build("mlp:16-12-10-3:relu", inputShape: data.sampleShape, classes: 3, seed: 1)
            let trainer = Trainer(model: model, rule: SLL(seed: seed), optimizer: Adam(learningRate: 1e-2), schedule: .constant,
                                  trainLoader: DataLoader(dataset: data, batchSize: 32, seed: 1), testSet: data, epochs: 2)
            _ = try trainer.run()
            return model.parameters.map(\.value)
        }
        #expect(try train(3) == train(3))
        #expect(try train(3) != train(4))
    }

    @Test func trainsAGeneratedProblem() throws {
        let data = TrainingTests.blobs(count: 240, seed: 1)
        let model = try ModelSpec.build("mlp:16-32-32-3:relu", inputShape: data.sampleShape, classes: 3, seed: 2)
        let trainer = Trainer(model: model, rule: SLL(), optimizer: Adam(learningRate: 1e-2), schedule: .constant,
                              trainLoader: DataLoader(dataset: data, batchSize: 32, seed: 1),
                              testSet: TrainingTests.blobs(count: 90, seed: 2), epochs: 6)
        let reports = try trainer.run()
        #expect(reports.last!.trainLoss < reports.first!.trainLoss * 0.7, "\(reports.map(\.trainLoss))")
        #expect(reports.last!.testAccuracy > 0.9, "\(reports.map(\.testAccuracy))")
    }
}
