import Foundation
import LocalLearning

/// "Implicit Regularization in Feedback Alignment": does FA's implicit bias help or hurt
/// generalisation as the number of classes k grows? For each dataset, k (the first k classes), rule
/// and seed, a model trains on the k-class subset and reports its train accuracy (evaluation mode,
/// on the training subset), test accuracy, their gap, and for the FA variants the mean angle
/// between each weighted layer's W and its feedback B at the end.
public enum FAClassesExperiment {
    public struct Configuration: Sendable {
        public var classCounts = [2, 5, 10]
        public var rules = ["bp", "fa", "signfa", "adafa"]
        public var seeds: [UInt64] = [1]
        public var epochs = 20
        public var model = "lenet"
        public var batchSize = 128
        public var learningRate: Float = 1e-3
        /// Use only the first N training samples of each subset (nil: all).
        public var trainLimit: Int?
        public init() {}
    }

    /// One trained model.
    public struct Run: Sendable, Codable {
        public var dataset: String
        public var classes: Int
        public var rule: String
        public var seed: UInt64
        public var trainAccuracy: Double
        public var testAccuracy: Double
        public var gap: Double { trainAccuracy - testAccuracy }
        /// Mean W∠B over the weighted layers, in degrees (FA variants only).
        public var feedbackAngle: Double?
        public var seconds: Double
    }

    /// Trains every (k, rule, seed) on `splits` (Adam, cosine schedule; standardised with the subset's statistics).
    public static func run(_ configuration: Configuration, dataset: String, splits: DatasetSplits,
                           progress: (Run) -> Void = { _ in }) throws -> [Run] {
        var runs: [Run] = []
        for k in configuration.classCounts {
            let kept = Array(0..<k)
            var train = splits.train.keepingClasses(kept).prefix(configuration.trainLimit)
            let standardization = Standardization(measuring: train)
            train = standardization.apply(to: train)
            let test = standardization.apply(to: splits.test.keepingClasses(kept))
            for rule in configuration.rules {
                for seed in configuration.seeds {
                    guard let learningRule = RuleRegistry.make(rule, seed: seed) else {
                        throw ModelError.invalidSpec(spec: rule, reason: "unknown rule; expected one of \(RuleRegistry.help)")
                    }
                    let start = DispatchTime.now().uptimeNanoseconds
                    let model = try ModelSpec.build(configuration.model, inputShape: train.sampleShape, classes: k, seed: seed)
                    try learningRule.checkCanTrain(model)
                    let trainer = Trainer(model: model, rule: learningRule, optimizer: Adam(learningRate: configuration.learningRate),
                                          schedule: .cosine(warmupSteps: 0),
                                          trainLoader: DataLoader(dataset: train, batchSize: configuration.batchSize, seed: seed),
                                          testSet: test, epochs: configuration.epochs)
                    let reports = try trainer.run()
                    let angles = learningRule.feedbackView(model)?.alignment().compactMap(\.degrees)
                    let result = Run(dataset: dataset, classes: k, rule: rule, seed: seed,
                                     trainAccuracy: Evaluation.evaluate(model, on: train, batchSize: 500).accuracy,
                                     testAccuracy: reports.last!.testAccuracy,
                                     feedbackAngle: angles.flatMap { $0.isEmpty ? nil : $0.reduce(0, +) / Double($0.count) },
                                     seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    progress(result)
                    runs.append(result)
                }
            }
        }
        return runs
    }

    /// One row per (dataset, k, rule): mean ± std over the seeds.
    public static func markdown(_ runs: [Run]) -> String {
        func cell(_ values: [Double], scale: Double = 100, suffix: String = "%") -> String {
            let s = Spread(values.map { $0 * scale }) ?? Spread([0])!
            return values.count > 1 ? String(format: "%.2f ± %.2f%@", s.mean, s.deviation, suffix) : String(format: "%.2f%@", s.mean, suffix)
        }
        var lines = ["| dataset | k | rule | seeds | train acc | test acc | gap (train − test) | mean W∠B |", "|---|---:|---|---:|---:|---:|---:|---:|"]
        var seen: [String] = []
        for run in runs {
            let key = "\(run.dataset)|\(run.classes)|\(run.rule)"
            guard !seen.contains(key) else { continue }
            seen.append(key)
            let group = runs.filter { "\($0.dataset)|\($0.classes)|\($0.rule)" == key }
            let angles = group.compactMap(\.feedbackAngle)
            lines.append("| \(run.dataset) | \(run.classes) | \(run.rule) | \(group.count) | \(cell(group.map(\.trainAccuracy))) "
                         + "| \(cell(group.map(\.testAccuracy))) | \(cell(group.map(\.gap))) "
                         + "| \(angles.isEmpty ? "–" : cell(angles, scale: 1, suffix: "°")) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
