#if canImport(Glibc)
import Glibc
#endif

/// How the learning rate changes over training, evaluated per optimizer step.
public enum LearningRateSchedule: Sendable, Equatable, Codable {
    /// The base rate throughout.
    case constant
    /// Multiply by `factor` every `everyEpochs` epochs.
    case step(everyEpochs: Int, factor: Float)
    /// Linear warm-up from base/warmupSteps to base over `warmupSteps`, then cosine annealing to 0
    /// at the last step (PyTorch's CosineAnnealingLR stepped per batch, with η_min = 0).
    case cosine(warmupSteps: Int)

    public func rate(base: Float, step: Int, totalSteps: Int, stepsPerEpoch: Int) -> Float {
        switch self {
        case .constant:
            return base
        case let .step(every, factor):
            let epoch = step / max(stepsPerEpoch, 1)
            return base * powf(factor, Float(epoch / max(every, 1)))
        case let .cosine(warmup):
            if step < warmup { return base * Float(step + 1) / Float(warmup) }
            let span = max(totalSteps - warmup, 1)
            let progress = Float(step - warmup) / Float(span)
            return base * 0.5 * (1 + cosf(Float.pi * progress))
        }
    }
}
