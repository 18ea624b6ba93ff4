import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Training with backprop")
struct TrainingTests {
    /// Two Gaussian blobs per class in 4×4 images: learnable, generated, fast.
    static func blobs(count: Int, seed: UInt64) -> Dataset {
        var rng = SeededGenerator(seed: seed)
        var labels: [Int32] = []
        let images = Tensor(uninitializedShape: [count, 1, 4, 4]) { p in
            for n in 0..<count {
                let label = n % 3
                labels.append(Int32(label))
                for i in 0..<16 { p[n * 16 + i] = 0.3 * rng.nextNormal() + (i % 3 == label ? 1 : 0) }
            }
        }
        return Dataset(name: "blobs", images: images, labels: labels, classes: 3)
    }

    func train(_ spec: String, seed: UInt64, epochs: Int = 3) throws -> (Model, [EpochReport]) {
        let data = Self.blobs(count: 240, seed: 1)
        let model = try ModelSpec.build(spec, inputShape: data.sampleShape, classes: 3, seed: seed)
        let trainer = Trainer(model: model, rule: Backprop(), optimizer: Adam(learningRate: 1e-2),
                              schedule: .constant, trainLoader: DataLoader(dataset: data, batchSize: 32, seed: seed),
                              testSet: Self.blobs(count: 90, seed: 2), epochs: epochs)
        return (model, try trainer.run())
    }

    @Test(arguments: ["mlp:16-32x2-3:tanh", "cnn:4,M,8,A1:fc8:relu:dropout0.1"])
    func lossGoesDownAndAccuracyUp(spec: String) throws {
        let (_, reports) = try train(spec, seed: 1, epochs: 4)
        #expect(reports.last!.trainLoss < reports.first!.trainLoss * 0.7, "\(reports.map(\.trainLoss))")
        #expect(reports.last!.testAccuracy > 0.9)
    }

    @Test func sameSeedSameWeightsDifferentSeedDifferentWeights() throws {
        // A CNN with BatchNorm and dropout, so every random source is exercised.
        let spec = "cnn:4,M,8,A1:fc8:relu:dropout0.2"
        let (a, _) = try train(spec, seed: 7, epochs: 2)
        let (b, _) = try train(spec, seed: 7, epochs: 2)
        let (c, _) = try train(spec, seed: 8, epochs: 2)
        #expect(a.parameters.map(\.value) == b.parameters.map(\.value))
        #expect(a.parameters.map(\.value) != c.parameters.map(\.value))
    }

    @Test func parallelKernelsGiveTheSameWeightsForAnyThreadCount() throws {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        Parallel.threadCount = 1
        let (one, _) = try train("cnn:8,M,8,A2:fc16", seed: 3, epochs: 1)
        Parallel.threadCount = 2
        let (two, _) = try train("cnn:8,M,8,A2:fc16", seed: 3, epochs: 1)
        #expect(one.parameters.map(\.value) == two.parameters.map(\.value))
    }

    @Test func divergingLossStopsWithANamedError() throws {
        let data = Self.blobs(count: 64, seed: 1)
        let model = try ModelSpec.build("mlp:16-8-3:relu", inputShape: data.sampleShape, classes: 3)
        let trainer = Trainer(model: model, rule: Backprop(), optimizer: SGD(learningRate: 1e30), schedule: .constant,
                              trainLoader: DataLoader(dataset: data, batchSize: 16), testSet: data, epochs: 3)
        do {
            try trainer.run()
            Issue.record("training at lr 1e30 should stop")
        } catch let error as TrainingError {
            let text = error.description
            #expect(text.hasPrefix("rule bp: the loss became") && text.contains("at epoch 1, step"), "\(text)")
            #expect(text.contains("block fc1 has non-finite weights") || text.contains("block classifier has non-finite weights"), "\(text)")
        }
    }

    @Test func aBatchWithANaNIsSkippedAndUndoneWhenAsked() throws {
        var data = Self.blobs(count: 64, seed: 1)
        data.images[5 * 16 + 3] = .nan        // one bad pixel: its batch's loss is NaN
        let test = Self.blobs(count: 30, seed: 2)
        for policy in NonFinitePolicy.allCases {
            let model = try ModelSpec.build("mlp:16-8-3:relu:bn", inputShape: data.sampleShape, classes: 3)
            let trainer = Trainer(model: model, rule: Backprop(), optimizer: Adam(learningRate: 1e-2), schedule: .constant,
                                  trainLoader: DataLoader(dataset: data, batchSize: 16, seed: 3), testSet: test, epochs: 3)
            trainer.onNonFiniteLoss = policy
            if policy == .stop {
                #expect(throws: TrainingError.self) { try trainer.run() }
            } else {
                let reports = try trainer.run()
                #expect(trainer.skippedBatches == 3, "one bad batch per epoch")
                #expect(model.parameters.allSatisfy { $0.value.isFinite })
                #expect(model.layers.compactMap { $0 as? BatchNorm }.allSatisfy { $0.runningStatistics.mean.isFinite })
                #expect(reports.allSatisfy { $0.trainLoss.isFinite } && reports.last!.testAccuracy > 0.6)
            }
        }
    }

    @Test func bpGradientsMatchFiniteDifferencesThroughAWholeModel() throws {
        let data = Self.blobs(count: 6, seed: 4)
        let model = try ModelSpec.build("cnn:3,M:fc5:tanh", inputShape: data.sampleShape, classes: 3, seed: 2)
        let loss = SoftmaxCrossEntropy()
        let logits = model.forward(data.images, mode: .training)
        model.backward(loss(logits, labels: data.labels).gradient)
        let weight = model.blocks[0].parameters[0]
        let analytic = weight.gradient.scalars
        for i in [0, 5, 13, 26] {
            let original = weight.value[i]
            weight.value[i] = original + 1e-2
            let plus = loss(model.forward(data.images, mode: .training), labels: data.labels).loss
            weight.value[i] = original - 1e-2
            let minus = loss(model.forward(data.images, mode: .training), labels: data.labels).loss
            weight.value[i] = original
            #expect(abs((plus - minus) / 2e-2 - analytic[i]) < 2e-3 + 2e-2 * abs(analytic[i]))
        }
    }
}
