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
    var feedbackInit: String
    var constrainWeights: Bool
    var basis: String
    var temperature: Float
    var recLRA: RecursiveLRA.Configuration
    var sll: SLL.Configuration
    var localUnit: Int
    /// `--on-nan` (logged as `on_nan`; configurations saved before it was renamed say `onNaN`).
    var onNan: String?
    var auxDepth: Int?
    var pyramid: Float?
    var stages: Int?
    var stageBoundaries: String?
    var perUnitStages: Bool?
    /// Set when the run trained its stages as this many MPI ranks (each saves its own stage file).
    var mpiStageRanks: Int?
    var transientGradients: Bool?
    /// `--dfa-injection`; configurations saved before it existed injected after pooling.
    var dfaInjection: String?
    /// `--val-split` (absent before it existed: 0).
    var valSplit: Float?
    /// `--classes` (absent: all classes).
    var classes: String?
}

extension RunConfiguration {
    /// A saved configuration (a checkpoint's metadata), older key names read as today's; nil when unreadable.
    static func decode(_ json: String) -> RunConfiguration? {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else { return nil }
        if let old = object.removeValue(forKey: "onNaN"), object["onNan"] == nil { object["onNan"] = old }
        guard let data = try? JSONSerialization.data(withJSONObject: object) else { return nil }
        return try? JSONDecoder().decode(RunConfiguration.self, from: data)
    }
}
