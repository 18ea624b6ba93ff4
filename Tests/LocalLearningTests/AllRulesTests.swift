import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

/// The contract every registered rule keeps, checked for each name in the registry: a rule added
/// with a descriptor and one registry line is covered here without a new test.
@Suite("Every registered rule keeps the rule contract")
struct AllRulesTests {
    /// Models small enough for a step in milliseconds; a rule is tried on the first one it accepts.
    static let specs = ["cnn:4,M,8,A1:fc8:relu", "cnn:4,4,8,8,A1:relu", "mlp:16-12-10-3:tanh"]
    /// Models no hidden-block rule can train (a single linear layer) and one with a sign activation.
    static let awkward = ["mlp:16-3", "mlp:16-12-3:sign", "cnn:4,A1:nobn"]

    static func firstTrainable(_ name: String) throws -> (spec: String, model: Model)? {
        for spec in specs {
            let model = try ModelSpec.build(spec, inputShape: [1, 4, 4], classes: 3, seed: 3)
            if RuleRegistry.make(name)!.refusal(for: model) == nil { return (spec, model) }
        }
        return nil
    }

    static func trainer(_ name: String, spec: String, epochs: Int = 2) throws -> (Model, LearningRule, Optimizer, Trainer) {
        let model = try ModelSpec.build(spec, inputShape: [1, 4, 4], classes: 3, seed: 3)
        let rule = RuleRegistry.make(name, seed: 3)!
        let optimizer = Adam(learningRate: 5e-3)
        let loader = DataLoader(dataset: TrainingTests.blobs(count: 96, seed: 1), batchSize: 32, seed: 3)
        let trainer = Trainer(model: model, rule: rule, optimizer: optimizer, schedule: .constant, trainLoader: loader,
                              testSet: TrainingTests.blobs(count: 30, seed: 2), epochs: epochs)
        return (model, rule, optimizer, trainer)
    }

    @Test func theRegistryListsEveryRuleOnceWithDescribedOptions() throws {
        let names = RuleRegistry.names
        #expect(Set(names).count == names.count)
        #expect(names.count >= 13)
        for descriptor in RuleRegistry.all {
            #expect(!descriptor.summary.isEmpty)
            // Defaults resolve to themselves, and every option's default is a value it accepts.
            let defaults = try descriptor.resolve([:])
            #expect(Set(defaults.keys) == Set(descriptor.options.map(\.name)))
            #expect(try descriptor.resolve(defaults) == defaults, "\(descriptor.name)")
            for option in descriptor.options where option.kind == .choice {
                for choice in option.choices { #expect(try descriptor.resolve([option.name: choice])[option.name] == choice) }
                #expect(throws: RuleOptionError.self) { try descriptor.resolve([option.name: "no-such-value"]) }
            }
            #expect(throws: RuleOptionError.self) { try descriptor.resolve(["no-such-option": "1"]) }
        }
    }

    @Test(arguments: RuleRegistry.names)
    func buildsTrainsReportsCostsAndResumesExactly(name: String) throws {
        let trainable = try Self.firstTrainable(name)
        let (spec, probe) = try #require(trainable, "\(name) accepts none of \(Self.specs)")
        let rule = RuleRegistry.make(name, seed: 3)!
        #expect(RuleRegistry.descriptor(named: name)!.name == name)
        // Costs: a forward pass and some learning work, and the memory report adds up.
        let macs = rule.macsPerSample(probe)
        #expect(macs.forward == probe.forwardMACs && macs.forward > 0 && macs.update > 0, "\(name): \(macs)")
        #expect(rule.stateBytes(probe) >= 0)

        // A step moves the weights and reports a finite loss.
        let (model, stepRule, optimizer, _) = try Self.trainer(name, spec: spec)
        let before = model.parameters.map(\.value)
        let meter = MemoryMeter()
        model.memoryMeter = meter
        let batch = Batch(images: TrainingTests.blobs(count: 32, seed: 5).images, labels: TrainingTests.blobs(count: 32, seed: 5).labels)
        let statistics = stepRule.step(model: model, batch: batch, optimizer: optimizer)
        #expect(statistics.loss.isFinite && statistics.count == 32)
        #expect(model.parameters.map(\.value) != before, "\(name) changed no weight")
        #expect(meter.peakActivationBytes > 32 * 3 * 4, "\(name) reported no activation memory")
        let scores = stepRule.scores(model: model, images: batch.images)
        #expect(scores.shape == [32, 3])

        // Interrupted after epoch 1 and resumed from a checkpoint: the same weights and reports.
        let (straightModel, _, _, straight) = try Self.trainer(name, spec: spec)
        let reference = try straight.run()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ll-allrules-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (firstModel, firstRule, firstOptimizer, first) = try Self.trainer(name, spec: spec, epochs: 1)
        let done = try first.run()
        try TrainingCheckpoint.save(to: directory, model: firstModel, rule: firstRule, optimizer: firstOptimizer,
                                    position: TrainingPosition(epoch: 1, step: 0), reports: done, configuration: "{}")
        let (secondModel, secondRule, secondOptimizer, second) = try Self.trainer(name, spec: spec)
        let path = "\(directory)/\(TrainingCheckpoint.fileName)"
        let contents = try TrainingCheckpoint.restore(Safetensors.read(path), path: path, model: secondModel, rule: secondRule,
                                                      optimizer: secondOptimizer)
        let resumed = try second.run(from: contents.position, reports: contents.reports)
        #expect(secondModel.parameters.map(\.value) == straightModel.parameters.map(\.value), "\(name): weights differ after resuming")
        #expect(resumed.map(\.testAccuracy) == reference.map(\.testAccuracy))
    }

    @Test(arguments: RuleRegistry.names)
    func refusesWithAReasonOrTrains(name: String) throws {
        for spec in Self.awkward {
            let model = try ModelSpec.build(spec, inputShape: [1, 4, 4], classes: 3, seed: 3)
            let rule = RuleRegistry.make(name)!
            if let reason = rule.refusal(for: model) {
                #expect(reason.count > 10, "\(name) on \(spec): '\(reason)'")
                #expect(throws: ModelError.self) { try rule.checkCanTrain(model) }
            } else {
                let data = TrainingTests.blobs(count: 8, seed: 1)
                let statistics = rule.step(model: model, batch: Batch(images: data.images, labels: data.labels), optimizer: SGD(learningRate: 0.01))
                #expect(statistics.count == 8, "\(name) on \(spec)")
            }
        }
    }
}
