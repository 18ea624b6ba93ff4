import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("rec-LRA")
struct RecursiveLRATests {
    /// Trains `model` with `rule` (Adam 1e-2, batch 32) on `data` and reports each epoch on held-out blobs.
    static func trainOnBlobs(_ model: Model, _ rule: LearningRule, _ data: Dataset, epochs: Int) throws -> [EpochReport] {
        try Trainer(model: model, rule: rule, optimizer: Adam(learningRate: 1e-2), schedule: .constant,
                    trainLoader: DataLoader(dataset: data, batchSize: 32, seed: 1),
                    testSet: TrainingTests.blobs(count: 90, seed: 2), epochs: epochs).run()
    }

    static func batch(_ count: Int, features: Int, classes: Int, seed: UInt64) -> Batch {
        var rng = SeededGenerator(seed: seed)
        return Batch(images: Tensor.uniform([count, features], bound: 1, using: &rng), labels: (0..<count).map { Int32($0 % classes) })
    }

    @Test func tinyBetaGivesTargetsAtTheActivitiesAndTheOutputRuleAtTheTop() throws {
        let model = try ModelSpec.build("mlp:6-5-3:tanh", inputShape: [6], classes: 3, seed: 2)
        let batch = Self.batch(4, features: 6, classes: 3, seed: 1)
        let rule = RecursiveLRA(.init(beta: 1e-7))
        rule.prepare(model)
        let stages = try RecursiveLRA.stages(of: model).get()
        let s = rule.signals(stages, batch: batch, model: model)
        #expect(s.errors[0].scalars.allSatisfy { abs($0) < 1e-6 }, "hidden error should vanish: \(s.errors[0])")
        // The top layer's update is the output-error rule, which is backprop's for the last layer.
        let recorder = GradientRecorder(), reference = GradientRecorder()
        _ = rule.step(model: model, batch: batch, optimizer: recorder)
        _ = Backprop().step(model: model, batch: batch, optimizer: reference)
        let top = model.weightedLayers.last!.weight
        let (a, b) = (recorder.gradient(of: top)!, reference.gradient(of: top)!)
        #expect(zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) < 1e-6 }, "\(a) vs \(b)")
        #expect(recorder.gradient(of: model.weightedLayers[0].weight)!.scalars.allSatisfy { abs($0) < 1e-6 })
    }

    /// Algorithm 1 written out with loops in Double for a 3-layer tanh network (chain wiring, paper rule).
    @Test func updatesMatchAHandComputedThreeLayerExample() throws {
        let model = try ModelSpec.build("mlp:3-4-2-2:tanh", inputShape: [3], classes: 2, seed: 5)
        let batch = Self.batch(2, features: 3, classes: 2, seed: 3)
        let (beta, gamma): (Double, Double) = (0.5, 0.3)
        let rule = RecursiveLRA(.init(beta: Float(beta), gamma: Float(gamma), errorSynapses: .paper, errorInitScale: 0.7), seed: 9)
        rule.prepare(model)
        #expect(rule.errorSynapses.map(\.value.shape) == [[2, 4], [2, 2]])   // E_{2→1}, E_{3→2}: [n_j, n_ℓ]
        let layers = model.weightedLayers.map { $0 as! Linear }
        let W = layers.map { l in (0..<l.outputSize).map { o in (0..<l.inputSize).map { Double(l.weight.value[o * l.inputSize + $0]) } } }
        let b = layers.map { l in (0..<l.outputSize).map { Double(l.bias!.value[$0]) } }
        let E = rule.errorSynapses.map { e in (0..<e.value.shape[0]).map { j in (0..<e.value.shape[1]).map { Double(e.value[j * e.value.shape[1] + $0]) } } }
        var expectedW = layers.map { l in [[Double]](repeating: [Double](repeating: 0, count: l.inputSize), count: l.outputSize) }
        var expectedE = E.map { e in e.map { $0.map { _ in 0.0 } } }
        for n in 0..<2 {
            var z = [(0..<3).map { Double(batch.images[n * 3 + $0]) }], h: [[Double]] = []
            for l in 0..<3 {
                h.append((0..<W[l].count).map { o in b[l][o] + zip(W[l][o], z[l]).reduce(0) { $0 + $1.0 * $1.1 } })
                z.append(l < 2 ? h[l].map { tanh($0) } : h[l])
            }
            let m = h[2].max()!, exps = h[2].map { exp($0 - m) }, total = exps.reduce(0, +)
            var e: [[Double]] = [[], [], exps.enumerated().map { $1 / total - ($0 == Int(batch.labels[n]) ? 1 : 0) }]
            var d: [[Double]] = [[], []]
            for l in [1, 0] {
                d[l] = (0..<W[l].count).map { i in (0..<e[l + 1].count).reduce(0) { $0 + E[l][$1][i] * e[l + 1][$1] } }
                e[l] = (0..<W[l].count).map { i in z[l + 1][i] - tanh(h[l][i] - beta * d[l][i]) }
            }
            for l in 0..<3 { for o in 0..<W[l].count { for i in 0..<W[l][o].count { expectedW[l][o][i] += e[l][o] * z[l][i] / 2 } } }
            // The optimizer gets −ΔE = γ·d·eᵀ: E moves by ΔE = −γ·d·eᵀ.
            for l in 0..<2 { for j in 0..<E[l].count { for i in 0..<E[l][j].count { expectedE[l][j][i] += gamma * d[l][i] * e[l + 1][j] / 2 } } }
        }
        let recorder = GradientRecorder()
        _ = rule.step(model: model, batch: batch, optimizer: recorder)
        for (l, layer) in layers.enumerated() {
            let g = recorder.gradient(of: layer.weight)!
            #expect(g.shape == layer.weight.value.shape)
            for o in 0..<layer.outputSize { for i in 0..<layer.inputSize {
                #expect(abs(Double(g[o * layer.inputSize + i]) - expectedW[l][o][i]) < 1e-5, "ΔW_\(l + 1)[\(o),\(i)]")
            } }
        }
        for (l, synapse) in rule.errorSynapses.enumerated() {
            let g = recorder.gradient(of: synapse)!
            let width = synapse.value.shape[1]
            for j in 0..<synapse.value.shape[0] { for i in 0..<width {
                #expect(abs(Double(g[j * width + i]) - expectedE[l][j][i]) < 1e-5, "ΔE_\(l + 1)[\(j),\(i)]")
            } }
        }
    }

    @Test func trackForwardKeepsEMinusWConstantUnderSGD() throws {
        let model = try ModelSpec.build("mlp:6-5-4-3:tanh", inputShape: [6], classes: 3, seed: 2)
        let rule = RecursiveLRA(.init(gamma: 1, errorSynapses: .trackForward))
        rule.prepare(model)
        let difference = { Tensor.zip(rule.errorSynapses[0].value, model.weightedLayers[1].weight.value) { $0 - $1 } }
        let before = difference(), initial = model.weightedLayers[1].weight.value
        for seed in 1...3 { _ = rule.step(model: model, batch: Self.batch(8, features: 6, classes: 3, seed: UInt64(seed)), optimizer: SGD(learningRate: 0.1)) }
        #expect(zip(difference().scalars, before.scalars).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(model.weightedLayers[1].weight.value != initial, "W moved, and E with it")
    }

    /// Eq. 6's step γ·E·e·eᵀ shrinks E along the errors it carries (Adam, which normalises γ away, at
    /// full rate); γ = 0 keeps the skip synapses exactly fixed while the forward weights learn.
    @Test func equationSixShrinksTheSynapsesAndGammaZeroKeepsThemFixed() throws {
        func run(gamma: Float) throws -> (before: Tensor, after: Tensor, weightMoved: Bool) {
            let model = try ModelSpec.build("mlp:6-5-4-3:tanh", inputShape: [6], classes: 3, seed: 2)
            let rule = RecursiveLRA(.init(gamma: gamma, errorSynapses: .paper, wiring: .outputSkip, errorInitScale: 1))
            rule.prepare(model)
            let (before, w) = (rule.errorSynapses[0].value, model.weightedLayers[0].weight.value)
            let adam = Adam(learningRate: 1e-2)
            for seed in 1...20 { _ = rule.step(model: model, batch: Self.batch(8, features: 6, classes: 3, seed: UInt64(seed)), optimizer: adam) }
            return (before, rule.errorSynapses[0].value, model.weightedLayers[0].weight.value != w)
        }
        let norm = { (t: Tensor) in t.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let learning = try run(gamma: 0.1)
        #expect(norm(learning.after) < 0.95 * norm(learning.before), "\(norm(learning.before)) → \(norm(learning.after))")
        let fixed = try run(gamma: 0)
        #expect(fixed.after == fixed.before)
        #expect(fixed.weightMoved)
    }

    @Test func signNetworksTrainWhileBackpropThroughSignGivesNoHiddenGradient() throws {
        let data = TrainingTests.blobs(count: 240, seed: 1)
        let spec = "mlp:16-32-32-3:sign"
        let bp = try ModelSpec.build(spec, inputShape: data.sampleShape, classes: 3, seed: 1)
        let recorder = GradientRecorder()
        _ = Backprop().step(model: bp, batch: Batch(images: data.images, labels: data.labels), optimizer: recorder)
        #expect(recorder.gradient(of: bp.weightedLayers[0].weight)!.scalars.allSatisfy { $0 == 0 })

        let model = try ModelSpec.build(spec, inputShape: data.sampleShape, classes: 3, seed: 1)
        let rule = RecursiveLRA(.init(errorSynapses: .paper, wiring: .outputSkip, errorInitScale: 1))
        let first = model.weightedLayers[0].weight.value
        let reports = try Self.trainOnBlobs(model, rule, data, epochs: 6)
        #expect(reports.last!.trainLoss < reports.first!.trainLoss * 0.7, "\(reports.map(\.trainLoss))")
        #expect(reports.last!.testAccuracy > 0.9, "\(reports.map(\.testAccuracy))")
        #expect(model.weightedLayers[0].weight.value != first, "the hidden layers learned")
    }

    @Test func modelsItCannotTrainAreNamed() throws {
        let dense = try ModelSpec.build("mlp:6-5-3:tanh:dropout0.2", inputShape: [6], classes: 3)
        #expect(RecursiveLRA().unsupportedReason(for: dense)?.contains("block fc1") == true)
        let mlp = try ModelSpec.build("mlp:6-5-3:tanh", inputShape: [6], classes: 3)
        #expect(RecursiveLRA().unsupportedReason(for: mlp) == nil)
        let cnn = try ModelSpec.build("cnn:4,M,6:fc8", inputShape: [1, 8, 8], classes: 3)
        #expect(RecursiveLRA().unsupportedReason(for: cnn) == nil)
        #expect(RecursiveLRA(.init(errorSynapses: .paper)).unsupportedReason(for: cnn)?.contains("dense chain links") == true)
        #expect(RecursiveLRA(.init(errorSynapses: .paper, wiring: .outputSkip)).unsupportedReason(for: cnn) == nil)
    }

    @Test(arguments: [RecursiveLRA.Wiring.outputSkip, .chain])
    func residualMLPsTrainWithSkipErrorsToTheBlockOutputs(wiring: RecursiveLRA.Wiring) throws {
        let data = TrainingTests.blobs(count: 240, seed: 1)
        let model = try ModelSpec.build("mlp:16-12x5-3:tanh:res", inputShape: data.sampleShape, classes: 3, seed: 2)
        #expect(model.blocks.map(\.name) == ["fc1", "res2", "res4", "classifier"])
        let rule = RecursiveLRA(.init(errorSynapses: .paper, wiring: wiring, errorInitScale: 1))
        #expect(rule.unsupportedReason(for: model) == nil)
        rule.prepare(model)
        let stages = try RecursiveLRA.stages(of: model).get()
        // Residual outputs, and the block before one, take the output's error.
        #expect(rule.sources(stages) == [3, 3, 3])
        #expect(rule.innerSynapses.keys.sorted() == [1, 2] && rule.innerSynapses[1]!.value.shape == [12, 12])
        let inner = (model.blocks[1].layers[0] as! Residual).body[0] as! Linear
        let before = inner.weight.value
        let reports = try Self.trainOnBlobs(model, rule, data, epochs: 5)
        #expect(reports.last!.trainLoss < reports.first!.trainLoss * 0.8, "\(reports.map(\.trainLoss))")
        #expect(reports.last!.testAccuracy > 0.85, "\(reports.map(\.testAccuracy))")
        #expect(inner.weight.value != before, "the layer inside the residual block learned")
    }

    @Test(arguments: ["cnn:4,M,6:fc8", "cnn:4,M,6:fc8:pconv"])
    func convolutionalAndPerturbativeNetworksTrain(spec: String) throws {
        let data = TrainingTests.blobs(count: 240, seed: 1)
        let model = try ModelSpec.build(spec, inputShape: data.sampleShape, classes: 3, seed: 2)
        let rule = RecursiveLRA(.init(errorSynapses: .trackForward, wiring: .chain, errorInitScale: 1))
        #expect(rule.unsupportedReason(for: model) == nil)
        let first = model.weightedLayers[0].weight.value
        let reports = try Self.trainOnBlobs(model, rule, data, epochs: 5)
        #expect(reports.last!.trainLoss < reports.first!.trainLoss * 0.8, "\(reports.map(\.trainLoss))")
        #expect(reports.last!.testAccuracy > 0.85, "\(reports.map(\.testAccuracy))")
        #expect(model.weightedLayers[0].weight.value != first, "the first convolution learned")
    }

    @Test(arguments: ["resnet:1", "resnet:1:pconv"])
    func residualCNNsTrainWithSkipErrors(spec: String) throws {
        let data = TrainingTests.blobs(count: 240, seed: 1)
        let model = try ModelSpec.build(spec, inputShape: data.sampleShape, classes: 3, seed: 2)
        let rule = RecursiveLRA(.init(errorSynapses: .trackForward, wiring: .chain, errorInitScale: 1))
        #expect(rule.unsupportedReason(for: model) == nil)
        rule.prepare(model)
        // Every hidden block of a ResNet (the stem before a residual block, the residual blocks) takes the output's error.
        #expect(rule.sources(try RecursiveLRA.stages(of: model).get()) == [4, 4, 4, 4])
        #expect(rule.innerSynapses.keys.sorted() == [1, 2, 3])
        let inner = (model.blocks[1].layers[0] as! Residual).body[3] as! WeightedLayer
        if spec.hasSuffix("pconv") { #expect(inner is Perturbative) }
        let (stem, before) = (model.weightedLayers[0], inner.weight.value)
        let stemBefore = stem.weight.value
        let reports = try Self.trainOnBlobs(model, rule, data, epochs: 6)
        #expect(reports.last!.trainLoss < reports.first!.trainLoss * 0.8, "\(reports.map(\.trainLoss))")
        #expect(reports.last!.testAccuracy > 0.8, "\(reports.map(\.testAccuracy))")
        #expect(inner.weight.value != before && stem.weight.value != stemBefore, "the stem and the layers inside residual blocks learn")
    }

    /// Locality: the stem's update is its own weight-gradient operator applied to its own error
    /// e = z − φ(h − β·E·e_L), built from the output error through its error synapse alone — recomputed
    /// here from the stem's forward quantities, nothing of the blocks between but the output error.
    @Test func aResidualCNNsStemLearnsFromItsErrorSynapseAlone() throws {
        let data = TrainingTests.blobs(count: 16, seed: 4)
        let model = try ModelSpec.build("resnet:1", inputShape: data.sampleShape, classes: 3, seed: 3)
        let rule = RecursiveLRA(.init(beta: 0.1, errorSynapses: .trackForward, wiring: .chain, errorInitScale: 1))
        rule.prepare(model)
        let batch = Batch(images: data.images, labels: data.labels)
        _ = rule.step(model: model, batch: batch, optimizer: SGD(learningRate: 0))
        let stem = model.blocks[0], conv = stem.layers[0] as! Conv2D
        let byRule = conv.weight.gradient

        let h = stem.layers[1].forward(conv.forward(batch.images, mode: .training), mode: .training)
        let z = stem.layers[2].forward(h, mode: .training)
        let logits = model.blocks.dropFirst().reduce(z) { $1.forward($0, mode: .training) }
        let n = Float(batch.count)
        let outputError = SoftmaxCrossEntropy()(logits, labels: batch.labels).gradient.mapped { $0 * n }
        let d = BLAS.matmul(outputError, rule.errorSynapses[0].value).reshaped(z.shape)
        let target = ActivationFunction.relu.apply(Tensor.zip(h, d) { $0 - 0.1 * $1 })
        let e = Tensor.zip(z, target) { ($0 - $1) / n }
        _ = conv.backward(stem.layers[1].backward(e, propagate: true)!, propagate: false)
        let worst = zip(byRule.scalars, conv.weight.gradient.scalars).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-5 * max(1, byRule.scalars.map(abs).max()!), "largest difference \(worst)")
        #expect(byRule.scalars.contains { $0 != 0 })
    }
}
