import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Forward-Forward: layer-local goodness")
struct ForwardForwardTests {
    static let data = TrainingTests.blobs(count: 60, seed: 11)

    /// Two classes, so the negative label of every sample is the other one (no draw involved).
    static var twoClassBatch: Batch { Batch(images: data.images, labels: data.labels.map { $0 % 2 }) }

    @Test func labelsAreEmbeddedAndLayerInputsNormalised() {
        let images = Tensor(shape: [2, 1, 2, 3], scalars: [0.5, 0.2, 0.9, 0.1, 0.3, 0.4, 0.6, 0.7, 0.8, 0.2, 0.1, 0.5])
        let embedded = ForwardForward.embedded(images, labels: [1, 0], classes: 2)
        #expect(embedded.shape == [2, 6])
        #expect(Array(embedded.scalars[0..<6]) == [0, 0.9, 0.9, 0.1, 0.3, 0.4])
        #expect(Array(embedded.scalars[6..<8]) == [0.9, 0])
        let unit = ForwardForward.normalised(embedded)
        for row in 0..<2 {
            let norm = unit.scalars[(row * 6)..<(row * 6 + 6)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-3)
        }
    }

    /// The settings whose loss the step differentiates exactly: the length- and rms-normalised inputs, the
    /// mean and sum goodness, and peer normalisation (its running means held where the step found them).
    static let differentiable: [ForwardForward.Settings] = [
        .init(threshold: 0.05, goodness: .mean, normalisation: .length, activationGradient: .exact, peerNormalisation: 0),
        .init(threshold: 0.05, goodness: .sum, normalisation: .rms, activationGradient: .exact, peerNormalisation: 0),
        .init(threshold: 1, goodness: .sum, normalisation: .rms, activationGradient: .exact, peerNormalisation: 0.5),
    ]

    /// The paper-text setting scoring with `layers`.
    static func paperText(scoring layers: ForwardForward.ScoreLayers) -> ForwardForward.Settings {
        var settings = ForwardForward.Settings.paperText
        settings.scoreLayers = layers
        return settings
    }

    @Test(arguments: differentiable)
    func theWeightGradientIsTheGoodnessLossGradient(settings: ForwardForward.Settings) throws {
        let m = try ModelSpec.build("mlp:16-8-2:relu", inputShape: [1, 4, 4], classes: 2, seed: 3)
        let rule = ForwardForward(settings)
        let batch = Self.twoClassBatch
        if settings.peerNormalisation > 0 { rule.peerMeans = [[0.9, 0.1, 0.4, 0.7, 0.2, 0.5, 0.3, 0.8]] }
        let means = rule.peerMeans
        // lr 0: the step leaves the weights and their gradients; its loss is the one hidden layer's.
        func loss() -> Double {
            rule.peerMeans = means
            return Double(rule.step(model: m, batch: batch, optimizer: SGD(learningRate: 0, momentum: 0)).loss)
        }
        _ = loss()
        let weight = m.blocks[0].parameters[0]
        let analytic = weight.gradient.scalars
        var numeric: [Double] = [], picked: [Float] = []
        for index in stride(from: 0, to: weight.value.count, by: 11) {
            let original = weight.value.scalars[index]
            let h: Float = 1e-2
            weight.value = Tensor(shape: weight.value.shape, scalars: weight.value.scalars.enumerated().map { $0 == index ? original + h : $1 })
            let up = loss()
            weight.value = Tensor(shape: weight.value.shape, scalars: weight.value.scalars.enumerated().map { $0 == index ? original - h : $1 })
            let down = loss()
            weight.value = Tensor(shape: weight.value.shape, scalars: weight.value.scalars.enumerated().map { $0 == index ? original : $1 })
            numeric.append((up - down) / Double(2 * h))
            picked.append(analytic[index])
        }
        #expect(GradientCheck.relativeError(picked, numeric) < 2e-2, "\(picked) vs \(numeric)")
        #expect(picked.contains { $0 != 0 })
    }

    /// A unit the ReLU keeps at 0 for every row gets no goodness gradient (∂Σh²/∂h = 2h = 0), but peer
    /// normalisation pushes its mean activity up: through the full activation gradient the push reaches its
    /// weights, through the exact one it stops at the ReLU.
    @Test func theFullActivationGradientReachesSilentUnits() throws {
        func firstRowGradient(_ gradient: ForwardForward.ActivationGradient) throws -> [Float] {
            let m = try ModelSpec.build("mlp:16-4-2:relu", inputShape: [1, 4, 4], classes: 2, seed: 3)
            let linear = m.blocks[0].parameters
            // Unit 0: weights 0 and bias −1, so its pre-activation is −1 on every input.
            linear[0].value = Tensor(shape: linear[0].value.shape, scalars: linear[0].value.scalars.enumerated().map { $0 < 16 ? 0 : $1 })
            linear[1].value = Tensor(shape: linear[1].value.shape, scalars: linear[1].value.scalars.enumerated().map { $0 == 0 ? -1 : $1 })
            _ = ForwardForward(.init(activationGradient: gradient, peerNormalisation: 0.03)).step(model: m, batch: Self.twoClassBatch,
                                                                        optimizer: SGD(learningRate: 0, momentum: 0))
            return Array(linear[0].gradient.scalars[0..<16]) + [linear[1].gradient.scalars[0]]
        }
        #expect(try firstRowGradient(.exact).allSatisfy { $0 == 0 })
        #expect(try firstRowGradient(.full).contains { $0 != 0 })
    }

    @Test func peerMeansTravelInTheCheckpoint() throws {
        let m = try ModelSpec.build("mlp:16-8x2-3:relu", inputShape: [1, 4, 4], classes: 3, seed: 5)
        let settings = ForwardForward.Settings(peerNormalisation: 0.03)
        let rule = ForwardForward(settings, seed: 2)
        _ = rule.step(model: m, batch: Batch(images: Self.data.images, labels: Self.data.labels), optimizer: SGD(learningRate: 0.1, momentum: 0))
        #expect(rule.peerMeans.count == 2 && rule.peerMeans.allSatisfy { $0.count == 8 && $0 != [Float](repeating: 0.5, count: 8) })
        let restored = ForwardForward(settings, seed: 9)
        try restored.restoreState(Safetensors.File(tensors: rule.checkpointState(m)), prefix: "", model: m, path: "test")
        #expect(restored.peerMeans == rule.peerMeans)
    }

    @Test func aLayerLearnsOnlyFromItsOwnGoodness() throws {
        let a = try ModelSpec.build("mlp:16-8x2-3:relu", inputShape: [1, 4, 4], classes: 3, seed: 5)
        let b = try ModelSpec.build("mlp:16-8x2-3:relu", inputShape: [1, 4, 4], classes: 3, seed: 5)
        b.blocks[1].parameters[0].value = b.blocks[1].parameters[0].value.mapped { $0 * -3 }
        let batch = Batch(images: Self.data.images, labels: Self.data.labels)
        _ = ForwardForward(seed: 2).step(model: a, batch: batch, optimizer: SGD(learningRate: 0.1, momentum: 0))
        _ = ForwardForward(seed: 2).step(model: b, batch: batch, optimizer: SGD(learningRate: 0.1, momentum: 0))
        #expect(a.blocks[0].parameters.map(\.value) == b.blocks[0].parameters.map(\.value))
        #expect(a.blocks[1].parameters[0].value != b.blocks[1].parameters[0].value)
        // The classifier block is not FF's: it keeps its initial weights.
        let fresh = try ModelSpec.build("mlp:16-8x2-3:relu", inputShape: [1, 4, 4], classes: 3, seed: 5)
        #expect(a.blocks[2].parameters.map(\.value) == fresh.blocks[2].parameters.map(\.value))
    }

    @Test func predictsTheLabelWithTheMostGoodness() throws {
        let m = try ModelSpec.build("mlp:16-32x2-3:relu", inputShape: [1, 4, 4], classes: 3, seed: 1)
        let rule = ForwardForward(seed: 1)
        let loader = DataLoader(dataset: TrainingTests.blobs(count: 300, seed: 2), batchSize: 50, seed: 1)
        let optimizer = Adam(learningRate: 3e-2)
        for epoch in 0..<8 { loader.forEachBatch(epoch: epoch) { _, batch in _ = rule.step(model: m, batch: batch, optimizer: optimizer) } }
        let test = TrainingTests.blobs(count: 90, seed: 3)
        let scores = rule.scores(model: m, images: test.images)
        #expect(scores.shape == [90, 3])
        let accuracy = Evaluation.evaluate(m, on: test, rule: rule).accuracy
        #expect(accuracy > 0.8, "accuracy \(accuracy)")
        // The plain forward pass (its untrained classifier) is not how FF predicts.
        #expect(Evaluation.evaluate(m, on: test).accuracy < accuracy)
    }

    /// The paper's scoring leaves the first hidden layer out: its scores are the all-layer scores less
    /// the first layer's goodness; a one-hidden-layer network scores with its only layer either way.
    @Test func thePapersScoringSkipsTheFirstHiddenLayer() throws {
        let m = try ModelSpec.build("mlp:16-8x2-3:relu", inputShape: [1, 4, 4], classes: 3, seed: 4)
        let images = TrainingTests.blobs(count: 5, seed: 6).images
        let all = ForwardForward(Self.paperText(scoring: .all)).scores(model: m, images: images)
        let paper = ForwardForward(Self.paperText(scoring: .allButFirst)).scores(model: m, images: images)
        for c in 0..<3 {
            let x = ForwardForward.embedded(images, labels: [Int32](repeating: Int32(c), count: 5), classes: 3)
            let first = ForwardForward.goodness(m.blocks[0].forward(ForwardForward.normalised(x), mode: .evaluation))
            for row in 0..<5 { #expect(abs(all[row * 3 + c] - first[row] - paper[row * 3 + c]) < 1e-5) }
        }
        #expect(paper.scalars.contains { $0 > 0 } && all.scalars != paper.scalars)
        let one = try ModelSpec.build("mlp:16-8-3:relu", inputShape: [1, 4, 4], classes: 3, seed: 4)
        #expect(ForwardForward(Self.paperText(scoring: .allButFirst)).scores(model: one, images: images).scalars
                == ForwardForward(Self.paperText(scoring: .all)).scores(model: one, images: images).scalars)
    }

    @Test func hardNegativesAreWrongLabelsTheNetworkFindsGood() throws {
        let m = try ModelSpec.build("mlp:16-16-3:relu", inputShape: [1, 4, 4], classes: 3, seed: 2)
        // Large weights: goodness differs clearly between labels, so the softmax over it is peaked.
        m.blocks[0].parameters[0].value = m.blocks[0].parameters[0].value.mapped { $0 * 40 }
        let rule = ForwardForward(.init(negatives: .hard), seed: 4)
        let batch = Batch(images: Self.data.images, labels: Self.data.labels)
        let wrong = rule.negativeLabels(model: m, batch: batch)
        #expect(zip(wrong, batch.labels).allSatisfy { $0 != $1 })
        // Drawn in proportion to softmax of the goodness: the wrong label with the larger goodness comes up more often.
        let scores = rule.scores(model: m, images: batch.images).scalars
        var agree = 0, total = 0
        for _ in 0..<20 {
            for (row, (label, drawn)) in zip(batch.labels, rule.negativeLabels(model: m, batch: batch)).enumerated() {
                let others = (0..<3).filter { $0 != Int(label) }
                let preferred = others.max { scores[row * 3 + $0] < scores[row * 3 + $1] }!
                if scores[row * 3 + others[0]] != scores[row * 3 + others[1]] {
                    total += 1
                    agree += Int(drawn) == preferred ? 1 : 0
                }
            }
        }
        #expect(total > 0 && Double(agree) / Double(total) > 0.8, "\(agree) of \(total)")
    }
}
