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
    var onNaN: String?
    var auxDepth: Int?
    var pyramid: Float?
    var stages: Int?
    var stageBoundaries: String?
    var perUnitStages: Bool?
    /// Set when the run trained its stages as this many MPI ranks (each saves its own stage file).
    var mpiStageRanks: Int?
    var transientGradients: Bool?
}
