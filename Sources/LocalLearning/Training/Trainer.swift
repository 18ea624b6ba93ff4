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
}

/// Why training stopped early.
public enum TrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(rule: String, epoch: Int, step: Int, loss: Float)

    public var description: String {
        switch self {
        case let .nonFiniteLoss(rule, epoch, step, loss):
            return "rule \(rule): the loss became \(loss) at epoch \(epoch), step \(step); try a smaller learning rate"
        }
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

    /// Trains; `progress(epoch, step, steps, statistics)` is called after every step and `epochDone`
    /// after every epoch. Returns the per-epoch reports.
    @discardableResult
    public func run(progress: (Int, Int, Int, StepStatistics) -> Void = { _, _, _, _ in },
                    epochDone: (EpochReport) throws -> Void = { _ in }) throws -> [EpochReport] {
        let steps = trainLoader.batchCount
        let start = DispatchTime.now().uptimeNanoseconds
        var reports: [EpochReport] = []
        var best = 0.0
        for epoch in 0..<epochs {
            var lossSum = 0.0, correct = 0, seen = 0
            let epochStart = DispatchTime.now().uptimeNanoseconds
            try trainLoader.forEachBatch(epoch: epoch) { index, batch in
                let globalStep = epoch * steps + index
                optimizer.learningRate = schedule.rate(base: baseLearningRate, step: globalStep,
                                                       totalSteps: epochs * steps, stepsPerEpoch: steps)
                let stats = rule.step(model: model, batch: batch, optimizer: optimizer)
                guard stats.loss.isFinite else {
                    throw TrainingError.nonFiniteLoss(rule: rule.name, epoch: epoch + 1, step: index + 1, loss: stats.loss)
                }
                lossSum += Double(stats.loss) * Double(stats.count)
                correct += stats.correct
                seen += stats.count
                progress(epoch + 1, index + 1, steps, stats)
            }
            let trainSeconds = Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
            let test = Evaluation.evaluate(model, on: testSet, batchSize: trainLoader.batchSize)
            best = max(best, test.accuracy)
            let report = EpochReport(
                epoch: epoch + 1, trainLoss: Float(lossSum / Double(seen)), trainAccuracy: Double(correct) / Double(seen),
                testLoss: test.loss, testAccuracy: test.accuracy, bestTestAccuracy: best,
                learningRate: optimizer.learningRate, trainSeconds: trainSeconds,
                samplesPerSecond: Double(seen) / trainSeconds,
                elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            reports.append(report)
            try epochDone(report)
        }
        return reports
    }
}
