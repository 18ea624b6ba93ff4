import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Pipelined local training")
struct PipelineTests {
    struct Stop: Error {}

    static func pipelined(_ run: ResumeTests.Run, stages: Int) -> StagePlan {
        let rule = run.rule as! any UnitLocalRule
        let plan = PipelinedTraining.balancedPlan(rule: rule, model: run.model, stages: stages)
        run.trainer.pipeline = plan
        return plan
    }

    @Test(arguments: [("lls-mxm", "cnn:4,M,8,A1:fc8:relu:dropout0.2", 2), ("sll", "mlp:16-12-10-3:relu:dropout0.1", 3),
                      ("dgl", "cnn:4,M,8,A1:fc8:relu", 2), ("auglocal", "resnet:2", 3), ("lls", "mlp:16-12-10-8-3:relu", 4),
                      ("sll", "vit:patch2-dim8-depth3-heads2-mlp2", 3), ("lls", "vit:patch2-dim8-depth2-heads2:mean", 2)])
    func pipelineGivesTheWeightsOfSequentialTraining(rule: String, spec: String, stages: Int) throws {
        let sequential = try ResumeTests.makeRun(rule: rule, spec: spec)
        let reference = try sequential.trainer.run()
        let run = try ResumeTests.makeRun(rule: rule, spec: spec)
        let plan = Self.pipelined(run, stages: stages)
        #expect(plan.count == stages)
        let reports = try run.trainer.run()
        #expect(run.model.parameters.map(\.value) == sequential.model.parameters.map(\.value), "\(rule) on \(stages) stages")
        #expect(reports.map(\.testAccuracy) == reference.map(\.testAccuracy))
        #expect(reports.map(\.trainLoss) == reference.map(\.trainLoss))
    }

    @Test(arguments: [("lls-mxm", "cnn:4,M,8,A1:fc8:relu:dropout0.2"), ("sll", "mlp:16-12-10-3:relu:dropout0.1"),
                      ("auglocal", "resnet:2"), ("dgl", "cnn:4,M,8,A1:fc8:relu")])
    func threadsSharingPerUnitStagesGiveTheWeightsOfSequentialTraining(rule: String, spec: String) throws {
        let sequential = try ResumeTests.makeRun(rule: rule, spec: spec)
        let reference = try sequential.trainer.run()
        let run = try ResumeTests.makeRun(rule: rule, spec: spec)
        let local = run.rule as! any UnitLocalRule
        local.prepare(run.model)
        let units = local.units(of: run.model).count
        run.trainer.pipeline = StagePlan.perUnit(unitCount: units)
        run.trainer.pipelineThreads = 2
        #expect(run.trainer.pipeline!.count == units + 1 && units >= 2)
        let reports = try run.trainer.run()
        #expect(run.model.parameters.map(\.value) == sequential.model.parameters.map(\.value), "\(rule): \(units + 1) stages, 2 threads")
        #expect(reports.map(\.testAccuracy) == reference.map(\.testAccuracy))
        #expect(reports.map(\.trainLoss) == reference.map(\.trainLoss))
    }

    @Test func aStopDrainsThePipelineAndTheCheckpointResumesExactly() throws {
        let straight = try ResumeTests.makeRun(rule: "sll", spec: "mlp:16-12-10-3:relu:dropout0.1")
        let reference = try straight.trainer.run()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ll-pipe-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try ResumeTests.makeRun(rule: "sll", spec: "mlp:16-12-10-3:relu:dropout0.1")
        _ = Self.pipelined(first, stages: 2)
        var handed = 0, positions: [TrainingPosition] = []
        // Ask to stop once 7 batches (epoch 2, step 2) have been handed to the pipeline.
        first.trainer.stopRequested = { handed += 1; return handed == 7 }
        #expect(throws: Stop.self) {
            try first.trainer.run(stepDone: { position in
                positions.append(position)
                guard handed >= 7 else { return }
                try TrainingCheckpoint.save(to: directory, model: first.model, rule: first.rule, optimizer: first.optimizer,
                                            position: position, reports: [], configuration: "{}")
                throw Stop()
            })
        }
        // stepDone ran at the end of epoch 1 (5 steps) and where the pipeline drained after the stop.
        #expect(positions.map(\.epoch) == [0, 1] && positions.map(\.step) == [5, 2])
        let second = try ResumeTests.makeRun(rule: "sll", spec: "mlp:16-12-10-3:relu:dropout0.1")
        let path = "\(directory)/\(TrainingCheckpoint.fileName)"
        let contents = try TrainingCheckpoint.restore(Safetensors.read(path), path: path, model: second.model, rule: second.rule,
                                                      optimizer: second.optimizer)
        let resumed = try second.trainer.run(from: contents.position, reports: Array(reference.prefix(1)))
        #expect(second.model.parameters.map(\.value) == straight.model.parameters.map(\.value))
        #expect(resumed.last!.trainLoss == reference.last!.trainLoss)
    }

    @Test func balancedPlansMinimiseTheLargestStage() {
        #expect(StagePlan.balanced(unitCosts: [1, 1, 1, 1], topCost: 0, count: 2).stages == [0..<2, 2..<4])
        #expect(StagePlan.balanced(unitCosts: [10, 1, 1, 1], topCost: 1, count: 2).stages == [0..<1, 1..<4])
        // A heavy classifier gets a stage of its own.
        #expect(StagePlan.balanced(unitCosts: [1, 1], topCost: 10, count: 3).stages == [0..<1, 1..<2, 2..<2])
        #expect(StagePlan.balanced(unitCosts: [5, 1, 1, 1, 5], topCost: 0, count: 3).stages == [0..<1, 1..<4, 4..<5])
        #expect(StagePlan.balanced(unitCosts: [3, 3, 3], topCost: 3, count: 1).stages == [0..<3])
    }

    @Test func perUnitPlansGiveEveryUnitAndTheClassifierAStage() {
        #expect(StagePlan.perUnit(unitCount: 3).stages == [0..<1, 1..<2, 2..<3, 3..<3])
        #expect(StagePlan.perUnit(unitCount: 0).stages == [0..<0])
        #expect(StagePlan.perUnit(unitCount: 2).description == "stage 1: unit 0, stage 2: unit 1, stage 3: classifier")
    }

    @Test func explicitBoundaries() throws {
        #expect(try StagePlan.starting(at: [2, 4], unitCount: 5).stages == [0..<2, 2..<4, 4..<5])
        #expect(try StagePlan.starting(at: [5], unitCount: 5).stages == [0..<5, 5..<5])
        for bad in [[0], [3, 3], [4, 2], [6]] {
            #expect(throws: PipelineError.self) { try StagePlan.starting(at: bad, unitCount: 5) }
        }
    }

    @Test func rulesWithAGlobalSignalAreRefusedWithTheirReason() {
        #expect(RuleRegistry.make("lls")!.pipelineRefusal == nil)
        #expect(RuleRegistry.make("auglocal")!.pipelineRefusal == nil)
        #expect(RuleRegistry.make("bp")!.pipelineRefusal!.contains("update locking"))
        #expect(RuleRegistry.make("fa")!.pipelineRefusal!.contains("update locking"))
        #expect(RuleRegistry.make("dfa")!.pipelineRefusal!.contains("delayed DFA"))
        #expect(RuleRegistry.make("reclra")!.pipelineRefusal!.contains("top-down"))
    }

    @Test func queuesHandItemsOverInOrderAcrossThreads() {
        let queue = BlockingQueue<Int?>()
        let received = BlockingQueue<[Int]>()
        Thread {
            var items: [Int] = []
            while let item = queue.take() { items.append(item) }
            received.put(items)
        }.start()
        for i in 0..<1000 { queue.put(i) }
        queue.put(nil)
        #expect(received.take() == Array(0..<1000))
        #expect(received.poll() == nil)
    }
}
