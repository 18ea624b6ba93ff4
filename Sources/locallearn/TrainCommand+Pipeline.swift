import Foundation
import LocalLearning

extension TrainCommand {
    /// "2,4" → [2, 4]; nil when malformed.
    static func parseBoundaries(_ text: String) -> [Int]? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        return parts.map { $0! }
    }

    /// The stage plan for `--stages` > 1 (nil for ordinary training), or a one-line error.
    func pipelinePlan(rule: LearningRule, model: Model) throws -> StagePlan? {
        guard stages > 1 else { return nil }
        if let reason = rule.pipelineRefusal { throw CommandError("--stages \(stages): \(reason)") }
        guard onNaN == .stop else {
            throw CommandError("--stages \(stages): --on-nan skip-batch cannot undo a step later stages have built on; use --on-nan stop")
        }
        let local = rule as! any UnitLocalRule
        local.prepare(model)
        let unitCount = local.units(of: model).count
        guard stages <= unitCount + 1 else {
            throw CommandError("--stages \(stages): \(model.spec) has \(unitCount) locally trained units, so at most \(unitCount + 1) stages")
        }
        if perUnitStages { return StagePlan.perUnit(unitCount: unitCount) }
        guard let stageBoundaries else { return PipelinedTraining.balancedPlan(rule: local, model: model, stages: stages) }
        do {
            return try StagePlan.starting(at: Self.parseBoundaries(stageBoundaries)!, unitCount: unitCount)
        } catch let error as PipelineError {
            throw CommandError("--stage-boundaries: \(error.description)")
        }
    }
}
