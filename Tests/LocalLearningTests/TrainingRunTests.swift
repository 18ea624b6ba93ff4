import Foundation
import Testing
@testable import LocalLearning

@Suite("TrainingRun: a run built from settings, without the command line")
struct TrainingRunTests {
    static var splits: DatasetSplits { DatasetSplits(train: TrainingTests.blobs(count: 200, seed: 1), test: TrainingTests.blobs(count: 60, seed: 2)) }

    static func settings() -> TrainingRun.Settings {
        var settings = TrainingRun.Settings(model: "mlp:16-12-3:relu", rule: "sll")
        settings.ruleOptions = ["sll-codes": "6"]
        (settings.epochs, settings.batchSize, settings.learningRate, settings.seed) = (3, 32, 5e-3, 4)
        settings.schedule = .cosine(warmupSteps: 0)
        return settings
    }

    @Test func dataIsLimitedSelectedHeldOutAndStandardisedInThatOrder() throws {
        let data = try RunData(Self.splits, options: .init(trainLimit: 150, classes: .list([2, 0]), validationFraction: 0.2, standardize: true, seed: 3))
        let kept = Self.splits.train.prefix(150).keepingClasses([2, 0]).count
        #expect(data.train.count + data.validation!.count == kept)
        #expect(data.validation!.count == Int((Float(kept) * 0.2).rounded()))
        #expect(data.train.classes == 2 && data.test.classes == 2)
        #expect(data.standardization != nil)
        #expect(throws: RunSetupError.self) { try RunData(Self.splits, options: .init(validationFraction: 0.999)) }
    }

    @Test func aRunSavedAfterOneEpochAndRestoredEndsWhereAnUninterruptedOneDoes() throws {
        let data = try RunData(Self.splits, options: .init(validationFraction: 0.1, standardize: true, seed: 4))
        let straight = try TrainingRun(Self.settings(), data: data)
        let reference = try straight.trainer.run()
        let folder = try CLI.temporaryFolder("run")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try TrainingRun(Self.settings(), data: data)
        var done: [EpochReport] = []
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try first.trainer.run(epochDone: { report in
                done.append(report)
                try first.save(to: folder, position: TrainingPosition(epoch: report.epoch, step: 0), reports: done, configuration: "{}")
                throw Stop()
            })
        }
        let second = try TrainingRun(Self.settings(), data: data)
        let path = "\(folder)/\(TrainingCheckpoint.fileName)"
        let contents = try second.restore(Safetensors.read(path), path: path)
        let resumed = try second.trainer.run(from: contents.position, reports: contents.reports)
        #expect(resumed.map(\.testAccuracy) == reference.map(\.testAccuracy))
        #expect(second.model.parameters.map(\.value) == straight.model.parameters.map(\.value))
        #expect(second.memoryReport.peakActivationBytes > 0)
        #expect(second.confusionMatrix.joined().reduce(0, +) == data.test.count)
    }

    @Test func settingsTheRuleCannotUseAreRefused() throws {
        let data = try RunData(Self.splits, options: .init())
        var settings = Self.settings()
        settings.ruleOptions = ["sll-codes": "2"]
        #expect(throws: ModelError.self) { try TrainingRun(settings, data: data) }
        settings.ruleOptions = ["temperature": "1"]
        #expect(throws: RuleOptionError.self) { try TrainingRun(settings, data: data) }
        settings = Self.settings()
        settings.rule = "bp"
        settings.ruleOptions = [:]
        settings.transientGradients = true
        #expect(throws: RunSetupError.self) { try TrainingRun(settings, data: data) }
    }
}
