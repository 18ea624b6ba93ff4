import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Feedback alignment family and DFA")
struct FeedbackAlignmentTests {
    static let data = TrainingTests.blobs(count: 64, seed: 3)
    static let batch = Batch(images: data.images, labels: data.labels)

    func model(_ spec: String = "mlp:16-12x2-3:tanh", seed: UInt64 = 5) throws -> Model {
        try ModelSpec.build(spec, inputShape: Self.data.sampleShape, classes: 3, seed: seed)
    }

    /// Weights after one SGD step of `rule` from the model built with `seed`.
    func weightsAfterOneStep(_ rule: LearningRule, spec: String = "mlp:16-12x2-3:tanh",
                             configure: (Model) -> Void = { _ in }) throws -> [Tensor] {
        let m = try model(spec)
        configure(m)
        _ = rule.step(model: m, batch: Self.batch, optimizer: SGD(learningRate: 0.1))
        return m.parameters.map(\.value)
    }

    @Test(arguments: ["mlp:16-12x2-3:tanh", "cnn:4,M,6:fc8:relu", "resnet:1"])
    func faWithFeedbackEqualToWeightsIsBackpropBitForBit(spec: String) throws {
        let bp = try weightsAfterOneStep(Backprop(), spec: spec)
        let fa = FeedbackAlignment(feedback: .random(.xavierUniform))
        let viaFA = try weightsAfterOneStep(fa, spec: spec) { m in
            fa.prepare(m)
            for layer in m.weightedLayers { fa.setFeedback(layer.weight.value, for: layer) }
        }
        #expect(viaFA == bp)
        // With its own random B, FA differs from BP.
        #expect(try weightsAfterOneStep(FeedbackAlignment(), spec: spec) != bp)
    }

    @Test func feedbackReachesTheConvolutionsInsideResidualBlocks() throws {
        let spec = "resnet:1"
        let bp = try weightsAfterOneStep(Backprop(), spec: spec)
        let fa = FeedbackAlignment(feedback: .random(.xavierUniform))
        var inner: WeightedLayer?
        let viaFA = try weightsAfterOneStep(fa, spec: spec) { m in
            fa.prepare(m)
            // B = W everywhere except the second convolution of the first residual body.
            inner = (m.blocks[1].layers[0] as! Residual).body[3] as? WeightedLayer
            for layer in m.weightedLayers where layer !== inner! { fa.setFeedback(layer.weight.value, for: layer) }
        }
        #expect(inner != nil)
        // The stem's update goes through that convolution's B, so it differs from backprop's; the classifier's does not.
        #expect(viaFA[0] != bp[0])
        #expect(viaFA.last! == bp.last!)
    }

    @Test func adaFAAtStepZeroIsBackprop() throws {
        #expect(try weightsAfterOneStep(FeedbackAlignment(feedback: .transposeAtInit)) == weightsAfterOneStep(Backprop()))
    }

    @Test func adaFAKeepsItsInitialFeedback() throws {
        let m = try model()
        let rule = FeedbackAlignment(feedback: .transposeAtInit)
        let initial = m.weightedLayers.map(\.weight.value)
        for _ in 0..<3 { _ = rule.step(model: m, batch: Self.batch, optimizer: SGD(learningRate: 0.5)) }
        #expect(m.weightedLayers.map { rule.feedbackMatrix(for: $0) } == initial)
        #expect(m.weightedLayers.map(\.weight.value) != initial)
    }

    @Test func signFAFollowsTheSignOfTheCurrentWeights() throws {
        let m = try model()
        let rule = FeedbackAlignment(feedback: .sign)
        rule.prepare(m)
        let layer = m.weightedLayers[1]
        let w0 = layer.weight.value
        let s = Float((w0.squaredNorm / Double(w0.count)).squareRoot())
        for _ in 0..<5 { _ = rule.step(model: m, batch: Self.batch, optimizer: SGD(learningRate: 2)) }
        let w = layer.weight.value
        let expected = w.mapped { $0 > 0 ? s : ($0 < 0 ? -s : 0) }
        #expect(rule.feedbackMatrix(for: layer) == expected)
        // Large steps flipped some signs, so the feedback moved with W.
        #expect(expected != w0.mapped { $0 > 0 ? s : ($0 < 0 ? -s : 0) })
    }

    @Test func frSFHasTheSignsOfWAndFixedMagnitudes() throws {
        let m = try model()
        let rule = FeedbackAlignment(feedback: .fixedMagnitudeSign(.xavierUniform))
        rule.prepare(m)
        let layer = m.weightedLayers[0]
        let before = rule.feedbackMatrix(for: layer).mapped(abs)
        _ = rule.step(model: m, batch: Self.batch, optimizer: SGD(learningRate: 1))
        let b = rule.feedbackMatrix(for: layer)
        #expect(b.mapped(abs) == before)
        for i in 0..<b.count { #expect(b[i].sign == layer.weight.value[i].sign || b[i] == 0) }
    }

    /// Where the signal enters a pooled conv block: before the pooling (the reference's DFA) with B = W·Pᵀ
    /// (P: the 2×2 average pool, a fixed linear map), or after it with B = W — both then equal backprop.
    @Test func dfaEntersConvBlocksBeforeTheirPoolingByDefault() throws {
        let spec = "cnn:4,A2"   // conv 4×4×4 → 2×2 average pool → linear 16 → 3
        let bp = try weightsAfterOneStep(Backprop(), spec: spec)
        let before = DirectFeedbackAlignment()
        let viaBefore = try weightsAfterOneStep(before, spec: spec) { m in
            let w = m.weightedLayers[1].weight.value   // [3, 4·2·2]
            var b = Tensor(shape: [3, 4 * 4 * 4])
            for k in 0..<3 { for c in 0..<4 { for y in 0..<4 { for x in 0..<4 {
                b[((k * 4 + c) * 4 + y) * 4 + x] = w[((k * 4 + c) * 2 + y / 2) * 2 + x / 2] / 4
            } } } }
            before.setFeedback(b, forBlock: 0, of: m)
        }
        #expect(zip(viaBefore, bp).allSatisfy { zip($0.scalars, $1.scalars).allSatisfy { abs($0 - $1) < 1e-6 } })
        let after = DirectFeedbackAlignment(injection: .afterPooling)
        let viaAfter = try weightsAfterOneStep(after, spec: spec) { m in after.setFeedback(m.weightedLayers[1].weight.value, forBlock: 0, of: m) }
        #expect(viaAfter == bp)
        let m = try model("cnn:4,M,6,M:fc8", seed: 1)
        let fresh = DirectFeedbackAlignment(), old = DirectFeedbackAlignment(injection: .afterPooling)
        fresh.prepare(m)
        old.prepare(m)
        #expect(fresh.feedbackMatrix(forBlock: 0)!.shape == [3, 4 * 4 * 4] && old.feedbackMatrix(forBlock: 0)!.shape == [3, 4 * 2 * 2])
        #expect(fresh.macsPerSample(m).signal == 3 * (64 + 24 + 8) && old.macsPerSample(m).signal == 3 * (16 + 6 + 8))
    }

    @Test func dfaWithOutputWeightsAsFeedbackIsBackpropForOneHiddenLayer() throws {
        let spec = "mlp:16-8-3:tanh"
        let bp = try weightsAfterOneStep(Backprop(), spec: spec)
        let dfa = DirectFeedbackAlignment()
        let viaDFA = try weightsAfterOneStep(dfa, spec: spec) { m in
            dfa.setFeedback(m.weightedLayers[1].weight.value, forBlock: 0, of: m)
        }
        #expect(viaDFA == bp)
        #expect(try weightsAfterOneStep(DirectFeedbackAlignment(), spec: spec) != bp)
    }

    @Test func dfaSendsNoSignalFromBlockToBlock() throws {
        // Block 0's update must not depend on block 1's feedback matrix under DFA;
        // under FA, block 1's feedback matrix is the path of block 0's signal.
        func firstBlockUpdate(dfaScale: Float?) throws -> Tensor {
            let m = try model("mlp:16-8x2-3:tanh")
            let before = m.weightedLayers[0].weight.value
            if let dfaScale {
                let rule = DirectFeedbackAlignment()
                rule.prepare(m)
                rule.setFeedback(rule.feedbackMatrix(forBlock: 1)!.mapped { $0 * dfaScale }, forBlock: 1, of: m)
                _ = rule.step(model: m, batch: Self.batch, optimizer: SGD(learningRate: 0.1))
            }
            return Tensor.zip(m.weightedLayers[0].weight.value, before, -)
        }
        #expect(try firstBlockUpdate(dfaScale: 1) == firstBlockUpdate(dfaScale: -3))
        func firstBlockUpdateFA(scale: Float) throws -> Tensor {
            let m = try model("mlp:16-8x2-3:tanh")
            let before = m.weightedLayers[0].weight.value
            let rule = FeedbackAlignment()
            rule.prepare(m)
            rule.setFeedback(rule.feedbackMatrix(for: m.weightedLayers[1]).mapped { $0 * scale }, for: m.weightedLayers[1])
            _ = rule.step(model: m, batch: Self.batch, optimizer: SGD(learningRate: 0.1))
            return Tensor.zip(m.weightedLayers[0].weight.value, before, -)
        }
        #expect(try firstBlockUpdateFA(scale: 1) != firstBlockUpdateFA(scale: -3))
    }

    @Test(arguments: ["fa", "signfa", "frsf", "adafa", "dfa"])
    func everyRuleLearns(name: String) throws {
        for spec in ["mlp:16-32x2-3:tanh", "cnn:4,M,8,A1:fc8:relu"] {
            let model = try ModelSpec.build(spec, inputShape: [1, 4, 4], classes: 3, seed: 2)
            let trainer = Trainer(model: model, rule: RuleRegistry.make(name, seed: 4)!, optimizer: Adam(learningRate: 1e-2),
                                  schedule: .constant, trainLoader: DataLoader(dataset: TrainingTests.blobs(count: 240, seed: 1), batchSize: 32),
                                  testSet: TrainingTests.blobs(count: 90, seed: 2), epochs: 8)
            let reports = try trainer.run()
            #expect(reports.last!.trainLoss < reports.first!.trainLoss * 0.8, "\(name) \(spec): \(reports.map(\.trainLoss))")
            // Chance is 1/3.
            #expect(reports.last!.testAccuracy > 0.6, "\(name) \(spec): \(reports.map(\.testAccuracy))")
        }
    }
}

@Suite("Feedback-alignment options")
struct FeedbackAlignmentOptionTests {
    @Test(arguments: ["fa", "dfa"])
    func constrainedWeightsKeepTheirInitialNorms(name: String) throws {
        let model = try ModelSpec.build("mlp:16-12x2-3:tanh", inputShape: [1, 4, 4], classes: 3, seed: 5)
        let norms = model.weightedLayers.map { $0.weight.value.squaredNorm.squareRoot() }
        let rule = RuleRegistry.make(name, options: ["constrain-weights": "true"])!
        for _ in 0..<4 { _ = rule.step(model: model, batch: FeedbackAlignmentTests.batch, optimizer: SGD(learningRate: 1)) }
        for (layer, norm) in zip(model.weightedLayers, norms) {
            #expect(abs(layer.weight.value.squaredNorm.squareRoot() / norm - 1) < 1e-5)
        }
        let free = try ModelSpec.build("mlp:16-12x2-3:tanh", inputShape: [1, 4, 4], classes: 3, seed: 5)
        let unconstrained = RuleRegistry.make(name)!
        for _ in 0..<4 { _ = unconstrained.step(model: free, batch: FeedbackAlignmentTests.batch, optimizer: SGD(learningRate: 1)) }
        #expect(zip(free.weightedLayers, norms).contains { abs($0.weight.value.squaredNorm.squareRoot() / $1 - 1) > 1e-3 })
    }

    @Test func feedbackInitializerSetsTheScaleOfB() throws {
        let model = try ModelSpec.build("mlp:16-12-3:tanh", inputShape: [1, 4, 4], classes: 3, seed: 5)
        let uniform = FeedbackAlignment(feedback: .random(.pytorchDefault))
        uniform.prepare(model)
        let b = uniform.feedbackMatrix(for: model.weightedLayers[1])
        let bound = 1 / Float(12).squareRoot()
        #expect(b.scalars.allSatisfy { abs($0) <= bound })
        #expect(b.scalars.contains { abs($0) > bound / 2 })
    }
}
