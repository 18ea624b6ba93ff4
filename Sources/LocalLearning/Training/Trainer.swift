import Foundation

/// One epoch's figures. Times cover the training loop (batch assembly included), not the test pass.
public struct EpochReport: Sendable, Codable {
    public var epoch: Int
    public var trainLoss: Float
    public var trainAccuracy: Double
    public var testLoss: Float
    public var testAccuracy: Double
    public var bestTestAccuracy: Double
    public var learningRate: Float
    public var trainSeconds: Double
    public var samplesPerSecond: Double
    public var elapsedSeconds: Double
    /// On the held-out validation part of the training set, when the run has one (`--val-split`).
    public var validationLoss: Float? = nil
    public var validationAccuracy: Double? = nil
    /// Test top-5 accuracy, for datasets of more than 10 classes.
    public var testTop5Accuracy: Double? = nil
}

extension Array where Element == EpochReport {
    /// The epoch with the best validation accuracy (the first of equals), or nil without validation.
    public var bestValidationEpoch: EpochReport? {
        filter { $0.validationAccuracy != nil }.max { $0.validationAccuracy! < $1.validationAccuracy! || ($0.validationAccuracy! == $1.validationAccuracy! && $0.epoch > $1.epoch) }
    }
}

/// Where a run stands: the epoch in progress (0-based), the steps done in it, and that epoch's running
/// sums — what a checkpoint needs to continue exactly.
public struct TrainingPosition: Sendable, Codable, Equatable {
    public var epoch = 0
    public var step = 0
    public var lossSum = 0.0
    public var correct = 0
    public var seen = 0
    public var trainSeconds = 0.0

    public init(epoch: Int = 0, step: Int = 0) {
        self.epoch = epoch
        self.step = step
    }
}

/// Why training stopped early.
public enum TrainingError: Error, CustomStringConvertible {
    /// `block` names the first block whose weights are no longer finite, when there is one.
    /// `skipped`: bad batches skipped in a row just before (`--on-nan skip-batch` gives up after 10).
    case nonFiniteLoss(rule: String, epoch: Int, step: Int, loss: Float, block: String? = nil, skipped: Int = 0)
    /// The loss stayed finite (e.g. a ReLU turned NaN into 0) but weights did not.
    case nonFiniteWeights(rule: String, epoch: Int, step: Int, block: String, skipped: Int = 0)

    public var description: String {
        switch self {
        case let .nonFiniteLoss(rule, epoch, step, loss, block, skipped):
            let weights = block.map { "; block \($0) has non-finite weights" } ?? ""
            return "rule \(rule): the loss became \(loss) at epoch \(epoch), step \(step)\(weights)\(Self.skipNote(skipped)); try a smaller learning rate"
        case let .nonFiniteWeights(rule, epoch, step, block, skipped):
            return "rule \(rule): the weights of block \(block) became NaN/Inf at epoch \(epoch), step \(step) (the loss stayed finite)"
                + "\(Self.skipNote(skipped)); check the data for NaN values or try a smaller learning rate"
        }
    }

    /// How many bad batches in a row `--on-nan skip-batch` skips before it stops the run.
    public static let maximumSkippedInARow = 10

    static func skipNote(_ skipped: Int) -> String {
        skipped == 0 ? "" : "; --on-nan skip-batch had skipped the \(skipped) batches before it, and stops after \(skipped) in a row"
    }
}

/// Runs a learning rule over a data loader for a number of epochs, evaluating after each.
/// It knows nothing rule-specific.
public final class Trainer {
    public let model: Model
    public let rule: LearningRule
    public let optimizer: Optimizer
    public let schedule: LearningRateSchedule
    public let baseLearningRate: Float
    public let trainLoader: DataLoader
    public let testSet: Dataset
    public let epochs: Int
    /// Evaluated after every epoch besides the test set: the held-out part of the training data.
    public var validationSet: Dataset?
    /// What a NaN/Inf loss does; skipped batches are counted in `skippedBatches`.
    public var onNonFiniteLoss: NonFinitePolicy = .stop
    public private(set) var skippedBatches = 0
    /// Run the rule's units as a pipeline of threads with this plan (`PipelinedTraining`); needs a
    /// `UnitLocalRule` and `onNonFiniteLoss == .stop`.
    public var pipeline: StagePlan?
    /// Worker threads sharing the pipeline's stages (nil: one per stage).
    public var pipelineThreads: Int?
    /// Asked after each batch a pipeline is handed: true stops handing it batches, lets it drain and
    /// calls `stepDone` with the position reached (so an interruption can save a checkpoint).
    public var stopRequested: () -> Bool = { false }
    /// Builds the pipeline for a plan (default: `PipelinedTraining`, threads in this process).
    public var makePipeline: ((any UnitLocalRule, StagePlan) -> StagePipeline)?

    public init(model: Model, rule: LearningRule, optimizer: Optimizer, schedule: LearningRateSchedule,
                trainLoader: DataLoader, testSet: Dataset, epochs: Int) {
        self.model = model
        self.rule = rule
        self.optimizer = optimizer
        self.schedule = schedule
        self.baseLearningRate = optimizer.learningRate
        self.trainLoader = trainLoader
        self.testSet = testSet
        self.epochs = epochs
    }

    /// Trains from `position` (with the `reports` of the epochs already done); `progress(epoch, step,
    /// steps, statistics)` is called after every step, `stepDone(position)` after every step with the
    /// position reached (it may save a checkpoint, or throw to stop), and `epochDone` after every
    /// epoch. Returns all per-epoch reports.
    @discardableResult
    public func run(from position: TrainingPosition = TrainingPosition(), reports previous: [EpochReport] = [],
                    progress: (Int, Int, Int, StepStatistics) -> Void = { _, _, _, _ in },
                    stepDone: (TrainingPosition) throws -> Void = { _ in },
                    epochDone: (EpochReport) throws -> Void = { _ in }) throws -> [EpochReport] {
        rule.prepare(model)
        if let pipeline {
            return try runPipelined(pipeline, from: position, reports: previous, progress: progress, stepDone: stepDone, epochDone: epochDone)
        }
        let steps = trainLoader.batchCount
        let start = DispatchTime.now().uptimeNanoseconds
        let elapsedBefore = previous.last?.elapsedSeconds ?? 0
        var reports = previous
        var best = previous.map(\.testAccuracy).max() ?? 0
        var consecutiveSkips = 0
        for epoch in position.epoch..<epochs {
            var reached = epoch == position.epoch ? position : TrainingPosition(epoch: epoch, step: 0)
            let secondsBefore = reached.trainSeconds
            let epochStart = DispatchTime.now().uptimeNanoseconds
            try trainLoader.forEachBatch(epoch: epoch, from: reached.step) { index, batch in
                let globalStep = epoch * steps + index
                optimizer.learningRate = schedule.rate(base: baseLearningRate, step: globalStep,
                                                       totalSteps: epochs * steps, stepsPerEpoch: steps)
                let snapshot = onNonFiniteLoss == .skipBatch ? TrainingSnapshot(model: model, rule: rule, optimizer: optimizer) : nil
                let stats = rule.step(model: model, batch: batch, optimizer: optimizer)
                let broken = model.firstBlockWithNonFiniteWeights
                if let snapshot, !stats.loss.isFinite || broken != nil, consecutiveSkips < TrainingError.maximumSkippedInARow {
                    snapshot.restore()
                    skippedBatches += 1
                    consecutiveSkips += 1
                    return
                }
                try record(stats, brokenBlock: broken?.name, epoch: epoch, index: index, into: &reached, skippedInARow: consecutiveSkips)
                consecutiveSkips = 0
                progress(epoch + 1, index + 1, steps, stats)
                reached.trainSeconds = secondsBefore + Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
                try stepDone(reached)
            }
            reached.trainSeconds = secondsBefore + Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
            let report = evaluatedReport(epoch: epoch, position: reached, best: &best,
                                         elapsedSeconds: elapsedBefore + Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            reports.append(report)
            try epochDone(report)
        }
        return reports
    }

    /// Stops the run (throws) when a step's loss or weights are not finite; else adds the step to
    /// `position`, which then stands after batch `index`.
    func record(_ stats: StepStatistics, brokenBlock: String?, epoch: Int, index: Int, into position: inout TrainingPosition,
                skippedInARow: Int = 0) throws {
        guard stats.loss.isFinite else {
            throw TrainingError.nonFiniteLoss(rule: rule.name, epoch: epoch + 1, step: index + 1, loss: stats.loss, block: brokenBlock,
                                              skipped: skippedInARow)
        }
        if let brokenBlock {
            throw TrainingError.nonFiniteWeights(rule: rule.name, epoch: epoch + 1, step: index + 1, block: brokenBlock, skipped: skippedInARow)
        }
        position.lossSum += Double(stats.loss) * Double(stats.count)
        position.correct += stats.correct
        position.seen += stats.count
        position.step = index + 1
    }

    /// Evaluates the model on the test set and makes the report of the epoch `position` ends.
    func evaluatedReport(epoch: Int, position: TrainingPosition, best: inout Double,
                         elapsedSeconds: @autoclosure () -> Double) -> EpochReport {
        let (lossSum, correct, seen, trainSeconds) = (position.lossSum, position.correct, position.seen, position.trainSeconds)
        let test = Evaluation.evaluate(model, on: testSet, batchSize: trainLoader.batchSize, rule: rule)
        let validation = validationSet.map { Evaluation.evaluate(model, on: $0, batchSize: trainLoader.batchSize, rule: rule) }
        best = max(best, test.accuracy)
        return EpochReport(
            epoch: epoch + 1, trainLoss: Float(lossSum / Double(seen)), trainAccuracy: Double(correct) / Double(seen),
            testLoss: test.loss, testAccuracy: test.accuracy, bestTestAccuracy: best,
            learningRate: optimizer.learningRate, trainSeconds: trainSeconds,
            samplesPerSecond: Double(seen) / trainSeconds, elapsedSeconds: elapsedSeconds(),
            validationLoss: validation?.loss, validationAccuracy: validation?.accuracy, testTop5Accuracy: test.top5Accuracy)
    }
}
