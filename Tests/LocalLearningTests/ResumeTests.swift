import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Checkpoint and exact resume")
struct ResumeTests {
    struct Stop: Error {}

    struct Run {
        let model: Model
        let rule: LearningRule
        let optimizer: Optimizer
        let trainer: Trainer
    }

    static func makeRun(rule name: String, spec: String) throws -> Run {
        let data = TrainingTests.blobs(count: 160, seed: 1)
        let model = try ModelSpec.build(spec, inputShape: data.sampleShape, classes: 3, seed: 6)
        let rule = RuleRegistry.make(name, seed: 6, options: name == "fa" ? ["constrain-weights": "true"] : [:])!
        let optimizer = Adam(learningRate: 5e-3)
        let loader = DataLoader(dataset: data, batchSize: 32, augmentation: Augmentation(cropPadding: 1, horizontalFlip: true), seed: 6)
        let trainer = Trainer(model: model, rule: rule, optimizer: optimizer, schedule: .cosine(warmupSteps: 2), trainLoader: loader,
                              testSet: TrainingTests.blobs(count: 30, seed: 2), epochs: 3)
        return Run(model: model, rule: rule, optimizer: optimizer, trainer: trainer)
    }

    @Test(arguments: [("bp", "cnn:4,M,8,A1:fc8:relu:dropout0.2"), ("fa", "cnn:4,M,8,A1:fc8:relu"), ("dfa", "mlp:16-12-10-3:tanh"),
                      ("lls-mxm", "cnn:4,M,8,A1:fc8:relu:dropout0.2"), ("sll", "mlp:16-12-10-3:relu:dropout0.1"),
                      ("reclra", "mlp:16-12-10-3:tanh"), ("signfa", "mlp:16-12-3:tanh"), ("dgl", "cnn:4,M,8,A1:fc8:relu"),
                      ("bp", "vit:patch2-dim8-depth2-heads2-mlp2:dropout0.1"), ("fa", "vit:patch2-dim8-depth2-heads2:mean")])
    func interruptedAndResumedEqualsUninterrupted(rule: String, spec: String) throws {
        let straight = try Self.makeRun(rule: rule, spec: spec)
        let reference = try straight.trainer.run()

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ll-resume-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try Self.makeRun(rule: rule, spec: spec)
        var savedAt: TrainingPosition?
        // Stop mid-epoch 2 (epoch index 1, after 2 of its 5 steps), as Ctrl-C would.
        #expect(throws: Stop.self) {
            try first.trainer.run(stepDone: { position in
                guard position.epoch == 1 && position.step == 2 else { return }
                try TrainingCheckpoint.save(to: directory, model: first.model, rule: first.rule, optimizer: first.optimizer,
                                            position: position, reports: [], configuration: "{}")
                savedAt = position
                throw Stop()
            })
        }
        let second = try Self.makeRun(rule: rule, spec: spec)
        let path = "\(directory)/\(TrainingCheckpoint.fileName)"
        let contents = try TrainingCheckpoint.restore(Safetensors.read(path), path: path, model: second.model, rule: second.rule,
                                                      optimizer: second.optimizer)
        #expect(contents.position == savedAt)
        let resumed = try second.trainer.run(from: contents.position, reports: Array(reference.prefix(1)))
        #expect(second.model.parameters.map(\.value) == straight.model.parameters.map(\.value), "weights differ after resuming \(rule)")
        #expect(resumed.map(\.testAccuracy) == reference.map(\.testAccuracy))
        #expect(resumed.last!.trainLoss == reference.last!.trainLoss)
    }

    @Test func aCheckpointOfAnotherRuleOrShapeIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ll-refuse-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try Self.makeRun(rule: "bp", spec: "mlp:16-12-3:tanh")
        try TrainingCheckpoint.save(to: directory, model: run.model, rule: run.rule, optimizer: run.optimizer,
                                    position: TrainingPosition(), reports: [], configuration: "{}")
        let path = "\(directory)/\(TrainingCheckpoint.fileName)"
        let other = try Self.makeRun(rule: "fa", spec: "mlp:16-12-3:tanh")
        #expect(throws: CheckpointError.self) {
            _ = try TrainingCheckpoint.restore(Safetensors.read(path), path: path, model: other.model, rule: other.rule, optimizer: other.optimizer)
        }
        let wider = try Self.makeRun(rule: "bp", spec: "mlp:16-13-3:tanh")
        #expect(throws: CheckpointError.self) {
            _ = try TrainingCheckpoint.restore(Safetensors.read(path), path: path, model: wider.model, rule: wider.rule, optimizer: wider.optimizer)
        }
    }
}
