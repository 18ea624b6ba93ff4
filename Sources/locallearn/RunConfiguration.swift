import Foundation
import LocalLearning

/// The options of a training run, as resolved from the command line (written to the run log).
struct RunConfiguration: Codable {
    var rule: String
    var model: String
    var dataset: String
    var dataDir: String?
    var epochs: Int
    var batchSize: Int
    var optimizer: String
    var learningRate: Float
    var momentum: Float
    var nesterov: Bool
    var weightDecay: Float
    var schedule: String
    var warmupEpochs: Int
    var seed: UInt64
    var threads: Int
    var cropPadding: Int
    var horizontalFlip: Bool
    var trainLimit: Int?
    var initializer: String
    var standardize: Bool
    var diagnostics: Bool
    /// `--on-nan` (logged as `on_nan`; configurations saved before it was renamed say `onNaN`).
    var onNan: String?
    var stages: Int?
    var stageBoundaries: String?
    var perUnitStages: Bool?
    /// Set when the run trained its stages as this many MPI ranks (each saves its own stage file).
    var mpiStageRanks: Int?
    var transientGradients: Bool?
    /// `--val-split` (absent before it existed: 0).
    var valSplit: Float?
    /// `--classes` (absent: all classes).
    var classes: String?
    /// Every option the rule declares, by name, with its value (`RuleDescriptor.resolve`).
    var ruleOptions: [String: String]
}

extension RunConfiguration {
    /// A saved configuration (a checkpoint's metadata), older key names read as today's; nil when unreadable.
    static func decode(_ json: String) -> RunConfiguration? {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else { return nil }
        if let old = object.removeValue(forKey: "onNaN"), object["onNan"] == nil { object["onNan"] = old }
        if object["ruleOptions"] == nil { object["ruleOptions"] = legacyRuleOptions(object) }
        // Options added to a rule after the run was saved take the values it trained with.
        if let rule = object["rule"] as? String, let descriptor = RuleRegistry.descriptor(named: rule),
           var options = object["ruleOptions"] as? [String: String] {
            for (key, value) in descriptor.legacyOptionValues where options[key] == nil { options[key] = value }
            object["ruleOptions"] = options
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object) else { return nil }
        return try? JSONDecoder().decode(RunConfiguration.self, from: data)
    }
}

extension RunConfiguration {
    /// The rule options of a configuration saved before rules declared their own (2026-12-01), from
    /// the flat keys it had then; each rule later takes the ones it declares.
    static func legacyRuleOptions(_ saved: [String: Any]) -> [String: String] {
        func text(_ value: Any?) -> String? {
            switch value {
            case let s as String: s
            case let n as NSNumber: "\(n)"
            default: nil
            }
        }
        var options: [String: String] = [:]
        let flat = ["feedbackInit": "feedback-init", "basis": "basis", "temperature": "temperature",
                    "localUnit": "local-unit", "auxDepth": "aux-depth", "pyramid": "pyramid", "dfaInjection": "dfa-injection"]
        for (old, new) in flat { if let value = text(saved[old]) { options[new] = value } }
        if let constrain = saved["constrainWeights"] as? Bool { options["constrain-weights"] = "\(constrain)" }
        let recLRA = saved["recLRA"] as? [String: Any] ?? [:]
        for (old, new) in ["beta": "beta", "gamma": "gamma", "errorSynapses": "error-synapses", "wiring": "wiring", "errorInitScale": "error-init"] {
            if let value = text(recLRA[old]) { options[new] = value }
        }
        let sll = saved["sll"] as? [String: Any] ?? [:]
        for (old, new) in ["codes": "sll-codes", "dropout": "sll-dropout", "lambda": "sll-lambda", "distribution": "sll-projection",
                           "scale": "sll-scale", "inputPrior": "sll-input-prior"] {
            if let value = text(sll[old]) { options[new] = value }
        }
        guard let rule = saved["rule"] as? String, let descriptor = RuleRegistry.descriptor(named: rule) else { return options }
        return options.filter { key, _ in descriptor.options.contains { $0.name == key } }
    }
}
