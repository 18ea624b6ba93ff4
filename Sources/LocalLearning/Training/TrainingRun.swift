/// One training run put together from its settings and data: the model, the rule, the optimizer,
/// the loader and the trainer, with the memory meter attached — what `locallearn train` configures
/// and prints from, and what a program or a test can build and run directly.
public final class TrainingRun {
    public struct Settings: Sendable {
        public var model: String
        public var rule: String
        /// The rule's own options by name (`RuleDescriptor.resolve` checks them).
        public var ruleOptions: [String: String] = [:]
        /// nil: the rule's default initialiser.
        public var initializer: Initializer?
        public var optimizer: OptimizerKind = .adam
        public var learningRate: Float = 1e-3
        public var momentum: Float = 0.9
        public var nesterov = false
        public var weightDecay: Float = 0
        /// A cosine schedule's warm-up is set from `warmupEpochs`.
        public var schedule: LearningRateSchedule = .constant
        public var warmupEpochs = 0
        public var epochs = 10
        public var batchSize = 128
        public var seed: UInt64 = 1
        public var augmentation = Augmentation()
        public var onNonFiniteLoss: NonFinitePolicy = .stop
        /// Unit-local rules: allocate a unit's gradients only while it trains.
        public var transientGradients = false
        /// Unit-local rules: record each unit's local loss and head accuracy (`--diagnostics`).
        public var monitorUnits = false

        public init(model: String, rule: String) {
            self.model = model
            self.rule = rule
        }

        /// The initialiser the run uses: the given one or the rule's default.
        public var resolvedInitializer: Initializer {
            initializer ?? RuleRegistry.descriptor(named: rule)?.initializer ?? .pytorchDefault
        }
    }

    public let settings: Settings
    public let data: RunData
    public let model: Model
    public let rule: LearningRule
    public let optimizer: Optimizer
    public let loader: DataLoader
    public let trainer: Trainer
    public let meter = MemoryMeter()

    /// Builds everything; throws `ModelError` (bad spec, or a rule that cannot train the model),
    /// `RuleOptionError` (a bad rule option) or `RunSetupError`. `trainedRule` wraps the rule the
    /// trainer steps (data-parallel training shares each batch among processes); checkpoints and
    /// costs use the rule itself.
    public init(_ settings: Settings, data: RunData, trainedRule: (LearningRule) -> LearningRule = { $0 }) throws {
        self.settings = settings
        self.data = data
        model = try ModelSpec.build(settings.model, inputShape: data.train.sampleShape, classes: data.train.classes, seed: settings.seed,
                                    initializer: settings.resolvedInitializer)
        rule = try RuleRegistry.descriptor(for: settings.rule).make(seed: settings.seed, options: settings.ruleOptions)
        try rule.checkCanTrain(model)
        if settings.transientGradients {
            guard rule is any UnitLocalRule else {
                throw RunSetupError("--transient-gradients needs a rule whose units train one after another (lls, lls-m, lls-mxm, sll, dgl, "
                                   + "auglocal, predsim, infopro); \(settings.rule) uses all gradients at once")
            }
            model.transientGradients = true
        }
        model.memoryMeter = meter
        if settings.monitorUnits, rule is any UnitLocalRule { model.unitMonitor = UnitMonitor() }
        optimizer = settings.optimizer.make(learningRate: settings.learningRate, momentum: settings.momentum, nesterov: settings.nesterov,
                                            weightDecay: settings.weightDecay)
        loader = DataLoader(dataset: data.train, batchSize: settings.batchSize, shuffle: true, augmentation: settings.augmentation, seed: settings.seed)
        var schedule = settings.schedule
        if case .cosine = schedule { schedule = .cosine(warmupSteps: settings.warmupEpochs * loader.batchCount) }
        trainer = Trainer(model: model, rule: trainedRule(rule), optimizer: optimizer, schedule: schedule, trainLoader: loader, testSet: data.test,
                          epochs: settings.epochs)
        trainer.onNonFiniteLoss = settings.onNonFiniteLoss
        trainer.validationSet = data.validation
    }

    /// Restores weights, rule state, optimizer moments and position from a checkpoint file.
    public func restore(_ file: Safetensors.File, path: String) throws -> TrainingCheckpoint.Contents {
        try TrainingCheckpoint.restore(file, path: path, model: model, rule: rule, optimizer: optimizer)
    }

    /// Saves everything a bit-identical resume needs into `directory`.
    public func save(to directory: String, position: TrainingPosition, reports: [EpochReport], configuration: String) throws {
        try TrainingCheckpoint.save(to: directory, model: model, rule: rule, optimizer: optimizer, position: position, reports: reports,
                                    configuration: configuration)
    }

    /// The engine's peak training memory so far, by kind.
    public var memoryReport: MemoryReport { MemoryReport(meter: meter, model: model, optimizer: optimizer, rule: rule) }

    /// Counts[true class][predicted class] of the current weights on the test split, predicted as the rule predicts.
    public var confusionMatrix: [[Int]] { Evaluation.confusionMatrix(model, on: data.test, batchSize: settings.batchSize, rule: rule) }
}
