import ArgumentParser
import Foundation
import LocalLearning

extension TrainCommand {
    /// Every check of a training run's values, wherever they come from: the command line, a
    /// `--config` file, `compare --set` (its children's arguments) and a resumed run's saved configuration.
    func validate() throws {
        do {
            _ = try resolvedRuleOptions()
        } catch let error as RuleOptionError {
            throw ValidationError(error.description)
        }
        guard stages >= 1 else { throw ValidationError("--stages must be at least 1, got \(stages)") }
        if let stageBoundaries {
            guard let bounds = Self.parseBoundaries(stageBoundaries) else {
                throw ValidationError("--stage-boundaries must be comma-separated unit indices such as 2,4, got '\(stageBoundaries)'")
            }
            guard bounds.count == stages - 1 else {
                throw ValidationError("--stage-boundaries names \(bounds.count) boundaries; --stages \(stages) needs \(stages - 1)")
            }
        }
        if perUnitStages {
            guard stages > 1 else { throw ValidationError("--per-unit-stages shares the stages among --stages threads; pass --stages 2 or more") }
            guard stageBoundaries == nil else { throw ValidationError("--per-unit-stages and --stage-boundaries cannot be combined: every unit is a stage") }
        }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1, got \(checkpointEvery)") }
        guard epochs > 0 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let problem = optimizer.refusal(learningRate: lr, momentum: momentum, weightDecay: weightDecay) { throw ValidationError(problem) }
        guard threads > 0 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        guard threads <= 1024 else { throw ValidationError("--threads must be at most 1024, got \(threads)") }
        guard cropPadding >= 0, cropPadding <= 64 else { throw ValidationError("--crop-padding must be in 0…64, got \(cropPadding)") }
        guard warmupEpochs >= 0 else { throw ValidationError("--warmup-epochs must be ≥ 0, got \(warmupEpochs)") }
        if let trainLimit, trainLimit < 1 { throw ValidationError("--train-limit must be at least 1 sample, got \(trainLimit)") }
        if let classes, ClassSelection(parsing: classes) == nil {
            throw ValidationError("--classes must be a class count K ≥ 2 or distinct labels such as 0,3,5, got '\(classes)'")
        }
        var classCount = dataset.classes
        if let selection = classSelection {
            switch selection.labels(outOf: dataset.classes) {
            case let .success(kept): classCount = kept.count
            case let .failure(error): throw ValidationError(error.description)
            }
        }
        if keepBest, valSplit == 0 || (checkpointDir == nil && resume == nil) {
            throw ValidationError("--keep-best keeps the best validation epoch's weights: it needs --val-split and --checkpoint-dir")
        }
        guard valSplit >= 0, valSplit < 1 else { throw ValidationError("--val-split must be a fraction in [0, 1), got \(valSplit)") }
        guard stages <= 1024 else { throw ValidationError("--stages must be at most 1024, got \(stages)") }
        _ = try parseSchedule()
        if dataset != .embedded && dataDir == nil {
            throw ValidationError("--dataset \(dataset.rawValue) needs --data-dir: the folder holding its files (e.g. ../shared/datasets/\(dataset.rawValue))")
        }
        try ModelSpec.validateFits(model, inputShape: dataset.sampleShape, classes: classCount, batchSize: batchSize)
    }
}
