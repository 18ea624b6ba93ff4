import ArgumentParser
import Foundation
import LocalLearning

extension TrainCommand {
    /// Every check of a training run's values, wherever they come from: the command line, a
    /// `--config` file, `compare --set` (its children's arguments) and a resumed run's saved configuration.
    func validate() throws {
        guard RuleRegistry.make(rule) != nil else { throw ValidationError("unknown rule '\(rule)'; expected one of: \(RuleRegistry.help)") }
        guard RuleOptions.feedbackInitializers[feedbackInit] != nil else {
            throw ValidationError("unknown --feedback-init '\(feedbackInit)'; expected xavier, kaiming or uniform")
        }
        guard ClassBasis(rawValue: basis) != nil else {
            throw ValidationError("unknown --basis '\(basis)'; expected one of: \(ClassBasis.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard RecursiveLRA.ErrorSynapseRule(rawValue: errorSynapses) != nil else {
            throw ValidationError("unknown --error-synapses '\(errorSynapses)'; expected paper or track-forward")
        }
        guard RecursiveLRA.Wiring(rawValue: wiring) != nil else {
            throw ValidationError("unknown --wiring '\(wiring)'; expected chain or output-skip")
        }
        guard beta.isFinite, gamma.isFinite, errorInit > 0, errorInit.isFinite else {
            throw ValidationError("--beta and --gamma must be numbers and --error-init positive")
        }
        guard sllCodes >= 0, sllDropout >= 0, sllDropout < 1, sllLambda >= 0, sllLambda.isFinite else {
            throw ValidationError("--sll-codes must be ≥ 0, --sll-dropout in [0, 1) and --sll-lambda ≥ 0")
        }
        guard SLL.ProjectionDistribution(rawValue: sllProjection) != nil else {
            throw ValidationError("unknown --sll-projection '\(sllProjection)'; expected gaussian, rademacher or sparse")
        }
        guard sllScale > 0, sllScale.isFinite else { throw ValidationError("--sll-scale must be positive, got \(sllScale)") }
        guard SLL.InputPrior(rawValue: sllInputPrior) != nil else {
            throw ValidationError("unknown --sll-input-prior '\(sllInputPrior)'; expected projection or uniform")
        }
        guard auxDepth >= 1, pyramid >= 0, pyramid <= 1 else { throw ValidationError("--aux-depth must be ≥ 1 and --pyramid in [0, 1]") }
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
        guard localUnit >= 1 else { throw ValidationError("--local-unit must be at least 1, got \(localUnit)") }
        guard temperature > 0, temperature.isFinite else { throw ValidationError("--temperature must be a positive number, got \(temperature)") }
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
        guard auxDepth <= 1000, localUnit <= 100_000, stages <= 1024, sllCodes <= 1_000_000 else {
            throw ValidationError("--aux-depth ≤ 1000, --local-unit ≤ 100000, --stages ≤ 1024 and --sll-codes ≤ 1000000")
        }
        _ = try parseSchedule()
        if dataset != .embedded && dataDir == nil {
            throw ValidationError("--dataset \(dataset.rawValue) needs --data-dir: the folder holding its files (e.g. ../shared/datasets/\(dataset.rawValue))")
        }
        try ModelSpec.validateFits(model, inputShape: dataset.sampleShape, classes: classCount, batchSize: batchSize)
    }
}
