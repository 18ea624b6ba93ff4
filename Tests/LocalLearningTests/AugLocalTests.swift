import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("AugLocal and DGL")
struct AugLocalTests {
    @Test func samplingAndPyramidMatchTheReferenceForResNet32() {
        // ResNet-32: K = 16 units (stem + 15 BasicBlocks).
        #expect(AugLocal.sampledUnits(layer: 0, depth: 2, units: 16) == [8, 15])
        #expect(AugLocal.sampledUnits(layer: 0, depth: 3, units: 16) == [5, 10, 15])
        #expect(AugLocal.sampledUnits(layer: 13, depth: 3, units: 16) == [14, 15], "all later units when d ≥ K−1−l")
        #expect(AugLocal.depthSchedule(units: 16, depth: 2, pyramid: 0.5) == Array(repeating: 2, count: 13))
        #expect(AugLocal.depthSchedule(units: 16, depth: 3, pyramid: 0.5) == Array(repeating: 3, count: 6) + Array(repeating: 2, count: 6))
        #expect(AugLocal.depthSchedule(units: 16, depth: 5, pyramid: 0.5) == [5, 5, 5, 4, 4, 4, 4, 3, 3, 3])
        #expect(AugLocal.sampledUnits(layer: 0, depth: 3, units: 110 / 2) == [18, 36, 54], "ResNet-110, K = 55")
    }

    @Test func auxiliaryNetworksCopyTheWidthsAndStridesOfTheirSampledUnits() throws {
        let model = try ModelSpec.build("resnet32", inputShape: [3, 16, 16], classes: 10)
        let rule = AugLocal(depth: 2)
        rule.prepare(model)
        #expect(rule.auxiliaries.count == 13 && rule.sampledUnits[0] == [8, 15])
        let blocks = rule.auxiliaries[0].layers.compactMap { $0 as? Residual }
        let firstConvs = blocks.map { $0.body[0] as! Conv2D }
        #expect(firstConvs.map(\.outChannels) == [32, 64] && firstConvs.map(\.stride) == [2, 2])
        #expect(blocks.allSatisfy { ($0.shortcut.first as? Conv2D)?.kernelSize == 1 })
        // Unit 7 (width 32) samples 11 and 15 (width 64): one downsample, then none.
        let later = rule.auxiliaries[7].layers.compactMap { $0 as? Residual }.map { $0.body[0] as! Conv2D }
        #expect(rule.sampledUnits[7] == [11, 15] && later.map(\.stride) == [2, 1] && later.map(\.outChannels) == [64, 64])
        // Depth 2: no BatchNorm before the head's Linear; the head ends in the classes.
        #expect(!(rule.auxiliaries[0].layers.dropLast().last is BatchNorm))
        #expect((rule.auxiliaries[0].layers.last as? Linear)?.outputSize == 10)
        #expect(AugLocal().unsupportedReason(for: try ModelSpec.build("mlp:16-8-3:relu", inputShape: [16], classes: 3)) != nil)
    }

    /// DGL as the AugLocal reference builds it: K units give K − 1 heads (the last unit trains by the
    /// output loss), hidden linear width C·s² (64/128/256 for 16/32/64 channels at CIFAR size), and
    /// the heads' convolutions drawn N(0, 2/(k²·out)).
    @Test func dglHeadsFollowTheReferenceCode() throws {
        let model = try ModelSpec.build("resnet:1", inputShape: [3, 32, 32], classes: 10)
        let rule = DGL(seed: 4)
        rule.prepare(model)
        #expect(rule.heads.count == 3, "stem and two of three BasicBlocks train locally; the last trains with the classifier")
        let widths = rule.heads.map { $0.layers.compactMap { $0 as? Linear }.dropLast().map(\.outputSize) }
        #expect(widths == [[64, 64], [64, 64], [128, 128]], "\(widths)")
        let convolutions = rule.heads[0].layers.compactMap { $0 as? Conv2D }
        let values = convolutions.flatMap(\.weight.value.scalars)
        let std = (values.reduce(0) { $0 + Double($1 * $1) } / Double(values.count)).squareRoot()
        #expect(abs(std - (2.0 / 16).squareRoot()) < 0.05, "std \(std) vs √(2/16)")
        // The reference's learning signal: heads for units 0…K−2, backprop from the output into unit K−1.
        let macs = rule.macsPerSample(model)
        let tail = model.layerMACs.filter { $0.layer is WeightedLayer && $0.block >= model.blocks.count - 2 }.dropFirst().reduce(0) { $0 + $1.macs }
        #expect(tail > 0 && macs.signal > tail)
    }

    @Test func theLastUnitOfDGLLearnsFromTheOutputLoss() throws {
        // Perturbing the classifier changes what the last hidden block learns, not what the first does.
        func afterStep(perturbClassifier: Bool) throws -> (first: [Tensor], last: [Tensor]) {
            let data = TrainingTests.blobs(count: 16, seed: 1)
            let model = try ModelSpec.build("resnet:1", inputShape: data.sampleShape, classes: 3, seed: 3)
            if perturbClassifier { model.blocks.last!.parameters.forEach { $0.value = $0.value.mapped { $0 * 1.5 + 0.1 } } }
            _ = DGL(seed: 2).step(model: model, batch: Batch(images: data.images, labels: data.labels), optimizer: SGD(learningRate: 0.1))
            let hidden = model.blocks.count - 2
            return (model.blocks[0].parameters.map(\.value), model.blocks[hidden].parameters.map(\.value))
        }
        let plain = try afterStep(perturbClassifier: false), perturbed = try afterStep(perturbClassifier: true)
        #expect(plain.first == perturbed.first)
        #expect(plain.last != perturbed.last)
    }

    @Test func dglAndAugLocalRunsDefaultToTheReferenceInitialisation() {
        #expect(RuleRegistry.descriptor(named: "dgl")?.initializer == .heNormalConvolutions)
        #expect(RuleRegistry.descriptor(named: "auglocal")?.initializer == .heNormalConvolutions)
        #expect(RuleRegistry.descriptor(named: "bp")?.initializer == .pytorchDefault)
        var rng = SeededGenerator(seed: 1)
        let conv = Initializer.heNormalConvolutions.make([64, 32, 3, 3], using: &rng)
        let std = (conv.scalars.reduce(0) { $0 + Double($1 * $1) } / Double(conv.count)).squareRoot()
        #expect(abs(std - (2.0 / (9 * 64)).squareRoot()) < 0.003, "\(std)")
        let linear = Initializer.heNormalConvolutions.make([10, 64], using: &rng)
        #expect(linear.scalars.allSatisfy { abs($0) <= 1 / Float(8) }, "linear layers as PyTorch: U(±1/√fan-in)")
    }

    /// Weights of the first unit after one step, with a later unit's weights perturbed or not.
    static func firstUnitAfterStep(_ rule: () -> LearningRule, perturbLater: Bool) throws -> [Tensor] {
        let data = TrainingTests.blobs(count: 16, seed: 1)
        let model = try ModelSpec.build("resnet:2", inputShape: data.sampleShape, classes: 3, seed: 3)
        if perturbLater { model.blocks[5].parameters.forEach { $0.value = $0.value.mapped { $0 * 1.5 + 0.1 } } }
        _ = rule().step(model: model, batch: Batch(images: data.images, labels: data.labels), optimizer: SGD(learningRate: 0.1))
        return model.blocks[0].parameters.map(\.value)
    }

    @Test(arguments: ["auglocal", "dgl"])
    func noGradientCrossesACut(rule name: String) throws {
        let untouched = try Self.firstUnitAfterStep({ RuleRegistry.make(name, seed: 2)! }, perturbLater: false)
        let perturbed = try Self.firstUnitAfterStep({ RuleRegistry.make(name, seed: 2)! }, perturbLater: true)
        #expect(untouched == perturbed)
        let before = try ModelSpec.build("resnet:2", inputShape: [1, 4, 4], classes: 3, seed: 3).blocks[0].parameters.map(\.value)
        #expect(untouched != before, "the first unit did learn")
    }

    @Test(arguments: ["auglocal", "dgl"])
    func trainsAGeneratedProblem(rule name: String) throws {
        // resnet:1 has 4 units: with depth 2, unit 0 trains locally and units 1–3 with the classifier.
        let data = TrainingTests.blobs(count: 96, seed: 1)
        let model = try ModelSpec.build("resnet:1", inputShape: data.sampleShape, classes: 3, seed: 2)
        let trainer = Trainer(model: model, rule: RuleRegistry.make(name, seed: 1)!, optimizer: Adam(learningRate: 1e-2), schedule: .constant,
                              trainLoader: DataLoader(dataset: data, batchSize: 32, seed: 1),
                              testSet: TrainingTests.blobs(count: 60, seed: 2), epochs: 4)
        let reports = try trainer.run()
        #expect(reports.last!.trainLoss < reports.first!.trainLoss * 0.8, "\(reports.map(\.trainLoss))")
        #expect(reports.last!.testAccuracy > 0.85, "\(reports.map(\.testAccuracy))")
    }
}

@Suite("Auxiliary networks in the memory meter")
struct AuxiliaryMemoryTests {
    @Test func theMeterSeesAuxiliaryBuffers() throws {
        let model = try ModelSpec.build("cnn:4,M,4:fc8", inputShape: [1, 8, 8], classes: 3)
        let meter = MemoryMeter()
        model.memoryMeter = meter
        var rng = SeededGenerator(seed: 1)
        let batch = Batch(images: Tensor.uniform([16, 1, 8, 8], bound: 1, using: &rng), labels: (0..<16).map { Int32($0 % 3) })
        let dgl = DGL()
        _ = dgl.step(model: model, batch: batch, optimizer: SGD(learningRate: 0.01))
        // The first head's buffers (its 1×1 convolutions' im2col and scratch, BatchNorms, activations) are counted:
        // more than the model's first block alone holds.
        let withHeads = meter.peakActivationBytes
        let plain = MemoryMeter()
        model.memoryMeter = plain
        _ = LLS().step(model: model, batch: batch, optimizer: SGD(learningRate: 0.01))
        #expect(withHeads > plain.peakActivationBytes, "DGL \(withHeads) vs LLS \(plain.peakActivationBytes)")
    }
}
