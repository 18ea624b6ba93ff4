import ArgumentParser
import Foundation
import LocalLearning

/// What `--diagnostics` logs after an epoch.
struct DiagnosticsRecord: Codable {
    struct Feedback: Codable {
        var layer: String
        var degrees: Double?
        var normRatio: Double
    }
    var epoch: Int
    var updateAngles: [UpdateAlignment.LayerAngle]
    var feedback: [Feedback]?
    struct Drift: Codable {
        var layers: String
        var relativeDrift: Double
    }
    /// Relative drift of the conservation-law quantity per pair of Linear layers since the start.
    var conservationDrift: [Drift]?
    /// Unit-local rules: each unit's mean local loss and its own head's training accuracy over the epoch.
    var units: [UnitMonitor.Figures]?
}

extension TrainCommand {
    /// Measures and prints the diagnostics of one epoch.
    /// Tracks the conservation law from the initial weights: with the rule's B for FA variants,
    /// backprop's balance law for BP; other rules have no such law.
    static func conservationTracker(rule: LearningRule, model: Model) -> ConservationLaw.Tracker? {
        rule.feedbackView(model).map { view in ConservationLaw.Tracker(model: model) { view.feedback($0) } }
    }

    static func diagnose(rule: LearningRule, model: Model, batch: Batch, epoch: Int,
                         conservation: ConservationLaw.Tracker?) -> DiagnosticsRecord {
        func degrees(_ d: Double?) -> String { d.map { String(format: "%.1f°", $0) } ?? "–" }
        // Read before the probe step below, which the monitor would otherwise count.
        let units = model.unitMonitor?.figures(model)
        if let units {
            print("    units (mean local loss, own head's training accuracy): " + units.map {
                "\($0.name) \(String(format: "%.4f", $0.loss))" + ($0.accuracy.map { String(format: " %.2f%%", $0 * 100) } ?? "")
            }.joined(separator: ", "))
        }
        let angles = UpdateAlignment.measure(rule: rule, model: model, batch: batch)
        model.unitMonitor?.reset()
        print("    update ∠ BP gradient: " + angles.map { "\($0.layer) \(degrees($0.degrees))" }.joined(separator: ", "))
        var feedback: [DiagnosticsRecord.Feedback]?
        if let rows = rule.feedbackView(model)?.alignment(), !rows.isEmpty {
            print("    W ∠ B, ‖B‖/‖W‖: " + rows.map { "\($0.layer) \(degrees($0.degrees)) \(String(format: "%.2f", $0.normRatio))" }
                .joined(separator: ", "))
            feedback = rows.map { DiagnosticsRecord.Feedback(layer: $0.layer, degrees: $0.degrees, normRatio: $0.normRatio) }
        }
        var drift: [DiagnosticsRecord.Drift]?
        if let conservation, !conservation.layers.isEmpty {
            let values = conservation.deviations()
            print("    conservation-law drift: " + zip(conservation.layers, values).map { "\($0) \(String(format: "%.2e", $1))" }
                .joined(separator: ", "))
            drift = zip(conservation.layers, values).map { DiagnosticsRecord.Drift(layers: $0, relativeDrift: $1) }
        }
        return DiagnosticsRecord(epoch: epoch, updateAngles: angles, feedback: feedback, conservationDrift: drift, units: units)
    }
}
