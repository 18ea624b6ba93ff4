import Foundation
import LocalLearning

/// One rule's result in a comparison.
public struct ComparisonRow: Sendable, Codable {
    public enum Status: Sendable, Codable, Equatable {
        case done
        case notApplicable(reason: String)
        case failed(message: String)
    }

    public var rule: String
    public var status: Status
    public var recipe: RuleRecipe?
    /// Test accuracy after every epoch.
    public var testAccuracies: [Double] = []
    /// Validation accuracy after every epoch, when the runs held out a validation split.
    public var validationAccuracies: [Double?] = []
    public var finalTrainAccuracy: Double?
    /// Seconds in the training loops (batch assembly included, evaluation excluded) and for the whole run.
    public var trainSeconds: Double?
    public var wallSeconds: Double?
    public var samplesPerSecond: Double?
    public var memory: MemoryReport?
    public var peakResidentBytes: Int?
    public var macs: MACBreakdown?
    /// One layer's update-vs-gradient angle after every epoch.
    public struct LayerSeries: Sendable, Codable, Equatable {
        public var layer: String
        public var degrees: [Double?]

        public init(layer: String, degrees: [Double?]) {
            self.layer = layer
            self.degrees = degrees
        }
    }

    /// Update-vs-gradient angle per layer (in the model's order) over epochs, where measured.
    public var updateAngles: [LayerSeries] = []

    /// One unit of a unit-local rule: its mean local loss and its own head's training accuracy per epoch.
    public struct UnitSeries: Sendable, Codable, Equatable {
        public var unit: String
        public var loss: [Double?]
        public var accuracy: [Double?]
    }

    /// Per unit, in the model's order, where measured (`--diagnostics` on a unit-local rule).
    public var units: [UnitSeries] = []

    /// Test-set confusion matrix of the final weights, counts[true][predicted] (the first seed's when combined).
    public var confusion: [[Int]]?

    /// The run's seed (one run), or nil for a row combining several (`seedFigures`).
    public var seed: UInt64?
    /// Set on a row that combines runs over several seeds: their accuracies.
    public var seedFigures: SeedFigures?
    /// With several seeds: the standard deviation of the test accuracy at each epoch (the curve is the mean).
    public var testAccuracyDeviations: [Double]?

    public init(rule: String, status: Status, recipe: RuleRecipe? = nil) {
        self.rule = rule
        self.status = status
        self.recipe = recipe
    }

    public var finalTestAccuracy: Double? { testAccuracies.last }
    public var bestTestAccuracy: Double? { testAccuracies.max() }
    public var bestEpoch: Int? { bestTestAccuracy.flatMap { best in testAccuracies.firstIndex(of: best).map { $0 + 1 } } }
    /// The epoch (1-based) of the best validation accuracy, the first of equals; nil without validation.
    public var bestValidationEpoch: Int? {
        let measured = validationAccuracies.enumerated().compactMap { index, value in value.map { (index, $0) } }
        return measured.max { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 > $1.0) }.map { $0.0 + 1 }
    }
    /// The test accuracy at the best validation epoch: the figure a reviewer accepts.
    public var testAccuracyAtBestValidation: Double? {
        bestValidationEpoch.flatMap { $0 - 1 < testAccuracies.count ? testAccuracies[$0 - 1] : nil }
    }

    /// Rule-owned state: feedback matrices, bases, modulations, error synapses, auxiliary networks.
    public var parameterOverheadBytes: Int? { memory?.ruleStateBytes }
}

/// Renders comparison rows as Markdown and CSV.
public enum ComparisonTable {
    static let headers = ["rule", "recipe", "test acc at best val (epoch)", "final test acc", "best test acc (epoch)", "train acc", "train time", "samples/s",
                          "engine peak memory", "peak RSS", "MACs fwd / signal / update", "rule state"]

    static func cells(_ r: ComparisonRow) -> [String] {
        func percent(_ v: Double?) -> String { v.map { String(format: "%.2f%%", $0 * 100) } ?? "–" }
        func mib(_ b: Int?) -> String { b.map(bytes) ?? "–" }
        let recipe = r.recipe.map { "\($0.optimizer.rawValue) \(String(format: "%g", $0.learningRate))" } ?? "–"
        switch r.status {
        case let .notApplicable(reason):
            return [r.rule, recipe, "not applicable: \(reason)"] + Array(repeating: "", count: headers.count - 3)
        case let .failed(message):
            return [r.rule, recipe, "failed: \(message)"] + Array(repeating: "", count: headers.count - 3)
        case .done:
            let macs = r.macs.map { "\(count($0.forward)) / \(count($0.signal)) / \(count($0.update))" } ?? "–"
            if let s = r.seedFigures {
                return [r.rule, recipe, ComparisonRow.spread(s.atBestValidation), ComparisonRow.spread(s.finalTest),
                        ComparisonRow.spread(s.bestTest), ComparisonRow.spread(s.finalTrain),
                        r.trainSeconds.map { String(format: "%.1f s", $0) } ?? "–",
                        r.samplesPerSecond.map { String(format: "%.0f", $0) } ?? "–",
                        mib(r.memory?.totalBytes), mib(r.peakResidentBytes), macs, mib(r.parameterOverheadBytes)]
            }
            return [r.rule, recipe, r.bestValidationEpoch.map { "\(percent(r.testAccuracyAtBestValidation)) (\($0))" } ?? "–",
                    percent(r.finalTestAccuracy),
                    r.bestEpoch.map { "\(percent(r.bestTestAccuracy)) (\($0))" } ?? "–", percent(r.finalTrainAccuracy),
                    r.trainSeconds.map { String(format: "%.1f s", $0) } ?? "–",
                    r.samplesPerSecond.map { String(format: "%.0f", $0) } ?? "–",
                    mib(r.memory?.totalBytes), mib(r.peakResidentBytes), macs, mib(r.parameterOverheadBytes)]
        }
    }

    /// Bytes in MiB, or KiB below 1 MiB.
    public static func bytes(_ n: Int) -> String {
        n < 1_048_576 ? String(format: "%.1f KiB", Double(n) / 1024) : String(format: "%.1f MiB", Double(n) / 1_048_576)
    }

    /// 1234567 → "1.23M".
    public static func count(_ n: Int) -> String {
        switch n {
        case 1_000_000_000...: String(format: "%.2fG", Double(n) / 1e9)
        case 1_000_000...: String(format: "%.2fM", Double(n) / 1e6)
        case 1_000...: String(format: "%.1fk", Double(n) / 1e3)
        default: "\(n)"
        }
    }

    public static func markdown(_ rows: [ComparisonRow]) -> String {
        var lines = ["| " + headers.joined(separator: " | ") + " |",
                     "|" + headers.map { _ in "---" }.joined(separator: "|") + "|"]
        for row in rows { lines.append("| " + cells(row).map { $0.replacingOccurrences(of: "|", with: "/") }.joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Unit-local rules' per-unit evidence at the last epoch: mean local loss / own head's training
    /// accuracy per unit (empty when no row has it).
    public static func unitsMarkdown(_ rows: [ComparisonRow]) -> String {
        let measured = rows.filter { !$0.units.isEmpty }
        guard !measured.isEmpty else { return "" }
        var lines = ["", "Per unit, last epoch: mean local loss / its own head's training accuracy", "",
                     "| rule | units |", "|---|---|"]
        for row in measured {
            let cells = row.units.map { unit in
                "\(unit.unit) " + (unit.loss.last.flatMap { $0 }.map { String(format: "%.3f", $0) } ?? "–")
                    + (unit.accuracy.last.flatMap { $0 }.map { String(format: " / %.1f%%", $0 * 100) } ?? "")
            }
            lines.append("| \(row.rule) | \(cells.joined(separator: " · ")) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Plain numbers (accuracies as fractions, times in seconds, memory in bytes) for scripts.
    public static func csv(_ rows: [ComparisonRow]) -> String {
        let header = "rule,status,optimizer,lr,final_test_acc,best_test_acc,best_epoch,final_train_acc,train_seconds,wall_seconds,"
            + "samples_per_s,engine_peak_bytes,peak_activation_bytes,peak_rss_bytes,macs_forward,macs_signal,macs_update,rule_state_bytes,"
            + "test_acc_at_best_val,best_val_epoch,seed"
        func field(_ v: Any?) -> String {
            guard let v else { return "" }
            let text = "\(v)"
            return text.contains(",") || text.contains("\"") ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        var lines = [header]
        for r in rows {
            let status: String = switch r.status {
            case .done: "done"
            case let .notApplicable(reason): "not applicable: \(reason)"
            case let .failed(message): "failed: \(message)"
            }
            let values: [Any?] = [r.rule, status, r.recipe?.optimizer.rawValue, r.recipe?.learningRate, r.finalTestAccuracy,
                                  r.bestTestAccuracy, r.bestEpoch, r.finalTrainAccuracy, r.trainSeconds, r.wallSeconds,
                                  r.samplesPerSecond, r.memory?.totalBytes, r.memory?.peakActivationBytes, r.peakResidentBytes,
                                  r.macs?.forward, r.macs?.signal, r.macs?.update, r.memory?.ruleStateBytes,
                                  r.testAccuracyAtBestValidation, r.bestValidationEpoch, r.seed]
            lines.append(values.map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
