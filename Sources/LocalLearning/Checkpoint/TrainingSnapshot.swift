/// An in-memory copy of everything a step changes — model parameters, BatchNorm statistics, the
/// rule's own parameters, the optimizer's moments — to undo a step whose loss came out NaN/Inf
/// (`--on-nan skip-batch`). Arrays are copy-on-write, so taking one costs a copy of each buffer only
/// when the step then writes it.
struct TrainingSnapshot {
    private let values: [(Parameter, Tensor)]
    private let statistics: [(BatchNorm, (mean: Tensor, variance: Tensor))]
    private let slots: [(OptimizerSlots.Slot, [Float], [Float], Int)]

    init(model: Model, rule: LearningRule, optimizer: Optimizer) {
        let parameters = model.parameters + (rule.ownParameters(model).map(\.parameter))
        values = parameters.map { ($0, $0.value) }
        statistics = model.layers.compactMap { $0 as? BatchNorm }.map { ($0, $0.runningStatistics) }
        let store = (optimizer as? HasOptimizerSlots)?.slots
        slots = parameters.compactMap { p in store?.existingSlot(for: p).map { ($0, $0.first, $0.second, $0.steps) } }
    }

    func restore() {
        for (parameter, value) in values { parameter.value = value }
        for (layer, stats) in statistics { layer.runningStatistics = stats }
        for (slot, first, second, steps) in slots { (slot.first, slot.second, slot.steps) = (first, second, steps) }
    }
}

/// What training does when a step's loss is NaN or infinite.
public enum NonFinitePolicy: String, Sendable, CaseIterable, Codable {
    /// Stop with an error naming the rule, epoch, step and the first block with broken weights.
    case stop
    /// Undo the step and go on with the next batch (stops after 10 in a row).
    case skipBatch = "skip-batch"
}
