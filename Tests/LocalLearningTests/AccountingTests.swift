import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("MAC and memory accounting")
struct AccountingTests {
    @Test func macsOfATwoLayerMLPByHand() throws {
        let model = try ModelSpec.build("mlp:784-100-10:relu", inputShape: [1, 28, 28], classes: 10)
        // Forward 784·100 + 100·10; BP sends the error back through the classifier only; the
        // weight gradients cost one MAC per forward MAC.
        #expect(Backprop().macsPerSample(model) == MACBreakdown(forward: 79_400, signal: 1_000, update: 79_400))
        #expect(FeedbackAlignment().macsPerSample(model) == MACBreakdown(forward: 79_400, signal: 1_000, update: 79_400))
        // DFA: 10 × 100 to the hidden block.
        #expect(DirectFeedbackAlignment().macsPerSample(model).signal == 1_000)
        // LLS on the unpooled 100-wide block: normalisation 4·100 + projection both ways 2·10·100.
        #expect(LLS().macsPerSample(model).signal == 400 + 2_000)
        // LLS-MxM adds 3·C².
        #expect(LLS(.init(modulation: .matrix)).macsPerSample(model).signal == 2_400 + 300)
    }

    @Test func convolutionMACs() throws {
        let model = try ModelSpec.build("cnn:4,M:nobn", inputShape: [1, 6, 6], classes: 2)
        // conv 1→4, 3×3, pad 1 on 6×6: 9·4·36; classifier 4·3·3 → 2.
        #expect(model.forwardMACs == 9 * 4 * 36 + 36 * 2)
        // LLS on [4, 6, 6] pooled to 4×4: pooling 2·144 both ways, normalisation 4·64, projection 2·2·64.
        #expect(LLS().macsPerSample(model).signal == 2 * 144 + 4 * 64 + 2 * 2 * 64)
    }

    /// Peak activation bytes of one training step of `rule` on an MLP with `depth` hidden layers.
    static func peakActivationBytes(rule: String, depth: Int) throws -> Int {
        let model = try ModelSpec.build("mlp:64-128x\(depth)-10:relu:bn", inputShape: [64], classes: 10)
        let meter = MemoryMeter()
        model.memoryMeter = meter
        var rng = SeededGenerator(seed: 3)
        let batch = Batch(images: Tensor.uniform([32, 64], bound: 1, using: &rng), labels: (0..<32).map { Int32($0 % 10) })
        _ = RuleRegistry.make(rule)!.step(model: model, batch: batch, optimizer: SGD(learningRate: 0.01))
        #expect(meter.samples > 0)
        return meter.peakActivationBytes
    }

    @Test func backpropMemoryGrowsWithDepthAndLocalMemoryDoesNot() throws {
        let bp = try [2, 4, 8].map { try Self.peakActivationBytes(rule: "bp", depth: $0) }
        let lls = try [2, 4, 8].map { try Self.peakActivationBytes(rule: "lls", depth: $0) }
        let sll = try [2, 4, 8].map { try Self.peakActivationBytes(rule: "sll", depth: $0) }
        #expect(sll[0] == sll[1] && sll[1] == sll[2], "\(sll)")
        #expect(bp[0] < bp[1] && bp[1] < bp[2], "\(bp)")
        // Each extra BP layer keeps its Linear input, BatchNorm input and activation input/output:
        // at least 32·128 floats × 3 distinct buffers.
        #expect(bp[2] - bp[1] >= 4 * (3 * 32 * 128 * 4), "\(bp)")
        #expect(lls[0] == lls[1] && lls[1] == lls[2], "\(lls)")
        #expect(lls[2] * 3 < bp[2], "lls \(lls), bp \(bp)")
    }

    /// Weights after three Adam steps of `rule` on a 4-hidden-layer MLP, and the meter's peak gradient bytes.
    static func trainedWithGradients(rule: String, transient: Bool) throws -> (weights: [[Float]], gradientBytes: Int, parameterBytes: Int) {
        let model = try ModelSpec.build("mlp:64-128x2-96x2-10:relu:bn", inputShape: [64], classes: 10)
        model.transientGradients = transient
        let meter = MemoryMeter()
        model.memoryMeter = meter
        var rng = SeededGenerator(seed: 5)
        let optimizer = Adam(learningRate: 1e-3)
        let learningRule = RuleRegistry.make(rule, seed: 2)!
        for _ in 0..<3 {
            let batch = Batch(images: Tensor.uniform([32, 64], bound: 1, using: &rng), labels: (0..<32).map { Int32($0 % 10) })
            _ = learningRule.step(model: model, batch: batch, optimizer: optimizer)
        }
        return (model.parameters.map(\.value.scalars), meter.peakGradientBytes, model.parameterCount * 4)
    }

    @Test func transientGradientsKeepOnlyOneUnitsGradientsAndTrainTheSame() throws {
        for rule in ["sll", "lls-m", "dgl"] {
            let kept = try Self.trainedWithGradients(rule: rule, transient: false)
            let transient = try Self.trainedWithGradients(rule: rule, transient: true)
            #expect(kept.weights == transient.weights, "\(rule): weights differ")
            #expect(kept.gradientBytes == kept.parameterBytes, "\(rule)")
            // The largest unit: Linear 64→128 or 128→128 with BatchNorm (128·128 + 128 + 2·128 floats).
            #expect(transient.gradientBytes == 4 * (128 * 128 + 128 + 2 * 128), "\(rule): \(transient.gradientBytes)")
        }
        let bp = try Self.trainedWithGradients(rule: "bp", transient: false)
        #expect(bp.gradientBytes == bp.parameterBytes)
        // Switching the mode off gives every parameter its gradient buffer back (for rules that need them all).
        let model = try ModelSpec.build("mlp:64-128x2-10:relu", inputShape: [64], classes: 10)
        model.transientGradients = true
        #expect(model.parameters.allSatisfy { !$0.holdsGradient })
        model.transientGradients = false
        #expect(model.parameters.allSatisfy { $0.holdsGradient })
    }

    @Test func diagnosticsStayOutOfTheMemoryMeter() throws {
        let model = try ModelSpec.build("mlp:64-128x4-10:relu:bn", inputShape: [64], classes: 10)
        let meter = MemoryMeter()
        model.memoryMeter = meter
        var rng = SeededGenerator(seed: 3)
        let batch = Batch(images: Tensor.uniform([32, 64], bound: 1, using: &rng), labels: (0..<32).map { Int32($0 % 10) })
        let lls = LLS()
        _ = lls.step(model: model, batch: batch, optimizer: SGD(learningRate: 0.01))
        let peak = meter.peakActivationBytes
        _ = UpdateAlignment.measure(rule: lls, model: model, batch: batch)   // runs a backprop pass
        #expect(meter.peakActivationBytes == peak)
        #expect(model.memoryMeter === meter)
    }

    @Test func heldBuffersSharedBetweenLayersCountOnce() throws {
        let model = try ModelSpec.build("mlp:8-16-4:relu", inputShape: [8], classes: 4)
        let meter = MemoryMeter()
        var rng = SeededGenerator(seed: 1)
        let x = Tensor.uniform([5, 8], bound: 1, using: &rng)
        _ = model.forward(x, mode: .training)
        meter.sample(model)
        // Held: Flatten keeps nothing, Linear1 its input (5·8), ReLU its input and output (5·16 each),
        // the classifier its input — the ReLU's output, already counted.
        #expect(meter.peakActivationBytes == 4 * (5 * 8 + 5 * 16 + 5 * 16))
        model.layers.forEach { $0.releaseHeld() }
        meter.reset()
        meter.sample(model)
        #expect(meter.peakActivationBytes == 0)
    }

    @Test func optimizerStateBytes() throws {
        let model = try ModelSpec.build("mlp:8-16-4:relu", inputShape: [8], classes: 4)
        let count = model.parameterCount
        for (optimizer, moments) in [(SGD(learningRate: 0.1) as Optimizer, 0), (SGD(learningRate: 0.1, momentum: 0.9), 1),
                                     (Adam(learningRate: 0.1), 2)] {
            optimizer.update(model.parameters)
            #expect(optimizer.stateBytes == moments * count * 4)
        }
    }
}
