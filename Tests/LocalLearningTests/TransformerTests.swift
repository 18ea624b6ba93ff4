import Foundation
import Testing
@testable import LocalLearning

@Suite("Transformer layers: backward against finite differences, attention, the ViT spec")
struct TransformerTests {
    static let tolerance = 1e-2

    @Test func layerNormBackwardAndNormalisation() {
        let norm = LayerNorm(features: 6)
        norm.scale.value = Tensor(shape: [6], scalars: [1, 2, 0.5, -1, 1.5, 0.7])
        norm.shift.value = Tensor(shape: [6], scalars: [0, 0.1, -0.2, 0.3, 0, 1])
        let report = GradientCheck.check(norm, input: GradientCheck.input([2, 3, 6]), epsilon: 1e-2)
        #expect(report.worst < Self.tolerance, "\(report)")
        // With γ = 1, β = 0 each row has mean 0 and variance 1 − ε-correction, even far from 0.
        let plain = LayerNorm(features: 4)
        let y = plain.forward(Tensor(shape: [1, 4], scalars: [1000, 1001, 1002, 1003]), mode: .evaluation)
        let expected: [Float] = [-3, -1, 1, 3].map { $0 / Float(5).squareRoot() }
        #expect(zip(y.scalars, expected).allSatisfy { abs($0 - $1) < 1e-3 }, "\(y.scalars)")
    }

    @Test func geluMatchesItsFormulaAndBackward() {
        let x: [Float] = [-3, -1, -0.1, 0, 0.5, 2]
        let y = ActivationFunction.gelu.apply(Tensor(shape: [6], scalars: x))
        for (v, got) in zip(x, y.scalars) {
            let d = Double(v), exact = 0.5 * d * (1 + Foundation.tanh(0.7978845608028654 * (d + 0.044715 * d * d * d)))
            #expect(abs(Double(got) - exact) < 1e-5, "GELU(\(v)) = \(got), expected \(exact)")
        }
        let report = GradientCheck.check(Activation(.gelu), input: GradientCheck.input([3, 11]), epsilon: 1e-2)
        #expect(report.worst < Self.tolerance, "\(report)")
    }

    @Test func patchifyIsTheStrideConvolutionLayout() throws {
        let patchify = Patchify(patch: 2)
        #expect(try patchify.outputShape(for: [3, 4, 6]) == [6, 12])
        #expect(throws: ModelError.self) { try patchify.outputShape(for: [3, 5, 6]) }
        // Token (grid row 1, column 2) of sample 1, feature (channel 2, row 1, column 0) is pixel (2, 3, 4).
        let x = Tensor(shape: [2, 3, 4, 6], scalars: (0..<144).map(Float.init))
        let tokens = patchify.forward(x, mode: .training)
        #expect(tokens.shape == [2, 6, 12])
        #expect(tokens[((1 * 6) + (1 * 3 + 2)) * 12 + (2 * 2 + 1) * 2 + 0] == x[((1 * 3 + 2) * 4 + 3) * 6 + 4])
        // A permutation: backward of the tokens gives back the image.
        #expect(patchify.backward(tokens, propagate: true)!.scalars == x.scalars)
    }

    @Test func linearAppliesToEveryToken() {
        var rng = SeededGenerator(seed: 4)
        let linear = Linear(5, 3, rng: &rng)
        let x = GradientCheck.input([2, 4, 5])
        let y = linear.forward(x, mode: .training)
        #expect(y.shape == [2, 4, 3])
        // Token 2 of sample 1 through the layer alone equals its row of the sequence output.
        let row = Tensor(shape: [1, 5], scalars: Array(x.scalars[(1 * 4 + 2) * 5..<(1 * 4 + 3) * 5]))
        let single = linear.forward(row, mode: .evaluation)
        #expect(zip(single.scalars, y.scalars[(1 * 4 + 2) * 3..<(1 * 4 + 3) * 3]).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(GradientCheck.check(linear, input: x).worst < Self.tolerance)
        #expect(linear.forwardMACs(inputShape: [4, 5]) == 4 * 15)
    }

    @Test func tokenEmbeddingAndPooling() {
        var rng = SeededGenerator(seed: 5)
        for classToken in [true, false] {
            let embedding = TokenEmbedding(tokens: 3, dimension: 4, classToken: classToken, rng: &rng)
            let report = GradientCheck.check(embedding, input: GradientCheck.input([2, 3, 4]))
            #expect(report.worst < Self.tolerance, "\(report)")
            #expect(report.parameterErrors.count == (classToken ? 2 : 1))
        }
        for reading in TokenPool.Reading.allCases {
            let pool = TokenPool(reading)
            let x = GradientCheck.input([2, 5, 3])
            #expect(GradientCheck.check(pool, input: x).worst < Self.tolerance)
            let y = pool.forward(x, mode: .evaluation)
            let expected = reading == .classToken ? x[3 * 5 + 1] : (0..<5).map { x[(5 + $0) * 3 + 1] }.reduce(0, +) / 5
            #expect(abs(y[3 + 1] - expected) < 1e-6)
        }
    }

    /// Attention computed by its definition, one sample, head and query at a time, in Double.
    static func directAttention(_ x: Tensor, dimension d: Int, heads: Int, causal: Bool) -> [Double] {
        let (n, t) = (x.shape[0], x.shape[1]), w = d / heads
        var out = [Double](repeating: 0, count: n * t * d)
        for s in 0..<n { for h in 0..<heads { for i in 0..<t {
            func at(_ token: Int, _ part: Int, _ j: Int) -> Double { Double(x[(s * t + token) * 3 * d + part * d + h * w + j]) }
            let keys = causal ? i + 1 : t
            let scores = (0..<keys).map { k in (0..<w).reduce(0.0) { $0 + at(i, 0, $1) * at(k, 1, $1) } / Double(w).squareRoot() }
            let top = scores.max()!, weights = scores.map { Foundation.exp($0 - top) }, total = weights.reduce(0, +)
            for j in 0..<w { out[(s * t + i) * d + h * w + j] = (0..<keys).reduce(0.0) { $0 + weights[$1] / total * at($1, 2, j) } }
        } } }
        return out
    }

    @Test(arguments: [(5, false), (1, false), (7, true), (4, true)])
    func attentionMatchesItsDefinitionForOddAndMaskedSequences(tokens: Int, causal: Bool) {
        let attention = SelfAttention(dimension: 6, heads: 2, causal: causal)
        let x = GradientCheck.input([2, tokens, 18], seed: UInt64(tokens))
        let y = attention.forward(x, mode: .training)
        #expect(y.shape == [2, tokens, 6])
        let expected = Self.directAttention(x, dimension: 6, heads: 2, causal: causal)
        #expect(zip(y.scalars, expected).allSatisfy { abs(Double($0) - $1) < 1e-5 })
        let report = GradientCheck.check(attention, input: x, epsilon: 1e-2)
        #expect(report.worst < Self.tolerance, "\(report)")
    }

    @Test func causalAttentionIgnoresLaterTokens() {
        let attention = SelfAttention(dimension: 4, heads: 1, causal: true)
        var x = GradientCheck.input([1, 3, 12])
        let before = attention.forward(x, mode: .evaluation)
        for j in 0..<12 { x[2 * 12 + j] = 50 }   // change the last token only
        let after = attention.forward(x, mode: .evaluation)
        #expect(Array(before.scalars[0..<8]) == Array(after.scalars[0..<8]))
        #expect(Array(before.scalars[8..<12]) != Array(after.scalars[8..<12]))
    }

    @Test func softmaxStaysFiniteForLargeLogits() {
        let attention = SelfAttention(dimension: 2, heads: 1)
        // Queries and keys of 1e4 give scores near 7e7: a softmax without the maximum subtracted overflows.
        let x = Tensor(shape: [1, 3, 6], scalars: [1e4, 1e4, 1e4, 1e4, 1, 2,
                                                  1e4, 1e4, -1e4, -1e4, 3, 4,
                                                  -1e4, -1e4, 1e4, 1e4, 5, 6])
        let y = attention.forward(x, mode: .training)
        #expect(y.isFinite)
        // Query 0 scores key 0 (and key 2) at +1e8/√2, key 1 at −1e8/√2: it averages the values of keys 0 and 2.
        #expect(abs(y[0] - 3) < 1e-4 && abs(y[1] - 4) < 1e-4, "\(y.scalars)")
        #expect(attention.backward(Tensor(shape: [1, 3, 2], repeating: 1), propagate: true)!.isFinite)
    }

    @Test func wholeTransformerBlockBackward() throws {
        let model = try ModelSpec.build("vit:patch2-dim8-depth1-heads2-mlp2", inputShape: [1, 4, 4], classes: 3, seed: 3)
        let block = model.blocks[0]
        let residuals = block.layers.compactMap { $0 as? Residual }
        #expect(residuals.count == 2)
        for residual in residuals {
            let report = GradientCheck.check(residual, input: GradientCheck.input([2, 5, 8], seed: 9), epsilon: 1e-2)
            #expect(report.worst < Self.tolerance, "\(residual.summary): \(report)")
        }
    }

    @Test func vitSpecBuildsAndRefusesWhatItCannot() throws {
        let model = try ModelSpec.build("vit:patch7-dim16-depth3-heads4-mlp2:mean", inputShape: [1, 28, 28], classes: 10)
        #expect(model.blocks.map(\.name) == ["block1", "block2", "block3", "classifier"])
        #expect(model.blockOutputShapes == [[16, 16], [16, 16], [16, 16], [10]])
        let cls = try ModelSpec.build("vit:patch4-dim16-depth2-heads2", inputShape: [3, 32, 32], classes: 10)
        #expect(cls.blockOutputShapes[0] == [65, 16])
        // Patch embedding 48·16+16, class token and positions 66·16, per block 2 LayerNorms + QKV + proj + MLP, head.
        let block = 4 * 16 + (16 * 48 + 48) + (16 * 16 + 16) + (16 * 32 + 32) + (32 * 16 + 16)
        #expect(cls.parameterCount == (48 * 16 + 16) + 66 * 16 + 2 * block + 2 * 16 + (16 * 10 + 10))
        // Forward MACs per sample: per block 65·(16·48 + 16·16 + 2·16·32) + 2·65²·16, plus the embedding and head.
        #expect(cls.forwardMACs == 64 * 48 * 16 + 2 * (65 * (16 * 48 + 16 * 16 + 2 * 16 * 32) + 2 * 65 * 65 * 16) + 16 * 10)
        // BP's signal: back through every projection but the patch embedding, and twice each attention's forward MACs.
        #expect(cls.errorPropagationMACs == 2 * (65 * (16 * 48 + 16 * 16 + 2 * 16 * 32) + 2 * 2 * 65 * 65 * 16) + 16 * 10)
        // Inside each unit (a transformer block): every projection after its first weighted layer, and attention twice.
        #expect(LocalTraining.withinUnitPropagationMACs(cls, unitSize: 1) == 65 * ((16 * 48 + 16 * 16 + 2 * 16 * 32) + (16 * 16 + 2 * 16 * 32))
                + 2 * 2 * (2 * 65 * 65 * 16))
        let footprint = try ModelSpec.footprint("vit:patch4-dim16-depth2-heads2", inputShape: [3, 32, 32], classes: 10)
        #expect(footprint.parameters == cls.parameterCount)
        for (spec, fragment) in [("vit:patch5", "multiples of the patch 5"), ("vit:dim10-heads4", "does not split into 4 heads"),
                                 ("vit:depth0", "depth must be in"), ("vit:patch4-patch2", "given twice"), ("vit:width3", "'width3' is not a field"),
                                 ("vit:patch4:max", "unknown option 'max'"), ("vit:patch4:dropout1.5", "unknown option")] {
            #expect {
                try ModelSpec.build(spec, inputShape: [1, 28, 28], classes: 10)
            } throws: { error in
                "\(error)".contains(fragment)
            }
        }
    }
}

@Suite("Rules on a ViT")
struct ViTRuleTests {
    /// Unit-local losses read a hidden token sequence as the classifier does: the class token's
    /// gradient is the only one a unit's loss sends (the other tokens get theirs through attention only).
    @Test(arguments: [TokenPool.Reading.classToken, .mean])
    func localLossesReadTheClassifiersToken(reading: TokenPool.Reading) throws {
        let spec = "vit:patch2-dim8-depth2-heads2:" + reading.rawValue
        let model = try ModelSpec.build(spec, inputShape: [1, 4, 4], classes: 3, seed: 2)
        #expect(SignalTap.tokenReading(of: model) == reading)
        #expect(SignalTap.lossShapes(of: model) == [[8], [8]])
        let rule = SLL(seed: 2)
        rule.prepare(model)
        #expect(rule.projections[0]?.shape == [3, 8] && rule.projections[1]?.shape == [3, 8])
        let data = TrainingTests.blobs(count: 64, seed: 3)
        let before = model.parameters.map(\.value)
        let batch = Batch(images: data.images, labels: data.labels)
        let stats = rule.step(model: model, batch: batch, optimizer: Adam(learningRate: 1e-2))
        #expect(stats.loss.isFinite)
        #expect(zip(before, model.parameters.map(\.value)).allSatisfy { $0 != $1 }, "every parameter of every unit moves")
    }

    /// What trains on a ViT and what refuses it with a reason (never a trap).
    @Test func everyRuleTrainsOrRefuses() throws {
        let refused = ["reclra", "auglocal", "pepita", "ff"]
        for descriptor in RuleRegistry.all {
            let model = try ModelSpec.build("vit:patch2-dim8-depth2-heads2", inputShape: [1, 4, 4], classes: 3, seed: 2)
            let rule = try descriptor.make(seed: 2, options: [:])
            if let reason = rule.unsupportedReason(for: model) {
                #expect(refused.contains(descriptor.name), "\(descriptor.name) refuses a ViT: \(reason)")
                continue
            }
            #expect(!refused.contains(descriptor.name), "\(descriptor.name) should refuse a ViT")
            rule.prepare(model)
            let data = TrainingTests.blobs(count: 32, seed: 3)
            let stats = rule.step(model: model, batch: Batch(images: data.images, labels: data.labels), optimizer: Adam(learningRate: 1e-2))
            #expect(stats.loss.isFinite, "\(descriptor.name)")
        }
    }
}

@Suite("DFA on a ViT")
struct ViTDFATests {
    /// The output error enters the token the classifier reads ([classes, D] feedback) by default, every
    /// token ([classes, T·D]) with `.all`; both train.
    @Test(arguments: [DirectFeedbackAlignment.TokenInjection.read, .all])
    func feedbackEntersTheReadTokenOrEveryToken(tokens: DirectFeedbackAlignment.TokenInjection) throws {
        let model = try ModelSpec.build("vit:patch2-dim8-depth2-heads2", inputShape: [1, 4, 4], classes: 3, seed: 2)
        let rule = DirectFeedbackAlignment(tokenInjection: tokens, seed: 2)
        rule.prepare(model)
        let width = tokens == .read ? 8 : 5 * 8
        #expect(rule.feedbackMatrix(forBlock: 0)?.shape == [3, width] && rule.feedbackMatrix(forBlock: 1)?.shape == [3, width])
        let data = TrainingTests.blobs(count: 96, seed: 3)
        let before = model.blocks[0].parameters.map(\.value)
        let reports = try Trainer(model: model, rule: rule, optimizer: Adam(learningRate: 1e-2), schedule: .constant,
                                  trainLoader: DataLoader(dataset: data, batchSize: 32, seed: 1), testSet: data, epochs: 4).run()
        #expect(reports.last!.trainLoss < reports.first!.trainLoss, "\(reports.map(\.trainLoss))")
        #expect(zip(before, model.blocks[0].parameters.map(\.value)).contains { $0 != $1 })
    }
}
