import Foundation
import LocalLearning

/// Thrown by the training loop after Ctrl-C, once the checkpoint is written.
struct Interrupted: Error {
    let directory: String
    let position: TrainingPosition
}

extension TrainCommand {
    /// Takes every setting of a saved run (a resumed run must train exactly as the original).
    mutating func adopt(_ c: RunConfiguration) {
        (rule, model, dataset, dataDir, epochs, batchSize) = (c.rule, c.model, c.dataset, c.dataDir, c.epochs, c.batchSize)
        (optimizer, lr, momentum, nesterov, weightDecay) = (c.optimizer, c.learningRate, c.momentum, c.nesterov, c.weightDecay)
        (schedule, warmupEpochs, seed, threads) = (c.schedule, c.warmupEpochs, c.seed, c.threads)
        (cropPadding, horizontalFlip, trainLimit, initializer, standardize) = (c.cropPadding, c.horizontalFlip, c.trainLimit, c.initializer, c.standardize)
        (diagnostics, feedbackInit, constrainWeights, basis, temperature) = (c.diagnostics, c.feedbackInit, c.constrainWeights, c.basis, c.temperature)
        (beta, gamma, errorSynapses, wiring, errorInit) = (c.recLRA.beta, c.recLRA.gamma, c.recLRA.errorSynapses.rawValue, c.recLRA.wiring.rawValue,
                                                          c.recLRA.errorInitScale)
        (sllCodes, sllDropout, sllLambda, localUnit) = (c.sll.codes, c.sll.dropout, c.sll.lambda, c.localUnit)
        (sllProjection, sllScale, sllInputPrior) = (c.sll.distribution.rawValue, c.sll.scale, c.sll.inputPrior.rawValue)
        onNaN = c.onNaN ?? NonFinitePolicy.stop.rawValue
        (auxDepth, pyramid) = (c.auxDepth ?? 2, c.pyramid ?? 0.5)
        (stages, stageBoundaries, perUnitStages) = (c.stages ?? 1, c.stageBoundaries, c.perUnitStages ?? false)
        transientGradients = c.transientGradients ?? false
    }
}
