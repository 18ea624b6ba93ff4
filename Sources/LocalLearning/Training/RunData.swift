/// The data a run trains and is measured on, prepared one way for `train`, `eval` and `robustness`:
/// the training split cut to `trainLimit`, restricted to a class selection (relabelled 0…k−1),
/// a validation fraction held out by a fixed draw from the seed, and — when asked — every split
/// standardised with the statistics of the remaining training samples.
public struct RunData: Sendable {
    public struct Options: Sendable, Equatable {
        public var trainLimit: Int?
        public var classes: ClassSelection?
        /// Fraction of the (limited, selected) training samples held out for validation; 0: none.
        public var validationFraction: Float
        public var standardize: Bool
        /// Draws the validation samples.
        public var seed: UInt64

        public init(trainLimit: Int? = nil, classes: ClassSelection? = nil, validationFraction: Float = 0, standardize: Bool = false,
                    seed: UInt64 = 1) {
            self.trainLimit = trainLimit
            self.classes = classes
            self.validationFraction = validationFraction
            self.standardize = standardize
            self.seed = seed
        }
    }

    public var train: Dataset
    public var validation: Dataset?
    public var test: Dataset
    /// Measured on `train` (before it was applied) when the options ask for it.
    public var standardization: Standardization?

    /// Throws `RunSetupError` naming the option when the options leave a split empty.
    public init(_ splits: DatasetSplits, options: Options) throws {
        var train = splits.train.prefix(options.trainLimit), test = splits.test
        if let selection = options.classes {
            switch selection.labels(outOf: train.classes) {
            case let .success(kept): (train, test) = (train.keepingClasses(kept), test.keepingClasses(kept))
            case let .failure(error): throw RunSetupError(error.description)
            }
            guard train.count > 0, test.count > 0 else { throw RunSetupError("--classes \(selection): no training or no test sample has those labels") }
        }
        var validation: Dataset?
        if options.validationFraction > 0 {
            let held = Int((Float(train.count) * options.validationFraction).rounded())
            guard held >= 1, held < train.count else {
                throw RunSetupError("--val-split \(options.validationFraction) of \(train.count) training samples holds out \(held): "
                                   + "it must leave at least one sample on each side")
            }
            (train, validation) = train.holdingOut(held, seed: options.seed)
        }
        if options.standardize {
            let standardization = Standardization(measuring: train)
            self.standardization = standardization
            train = standardization.apply(to: train)
            test = standardization.apply(to: test)
            validation = validation.map(standardization.apply)
        }
        (self.train, self.validation, self.test) = (train, validation, test)
    }
}

/// Options that cannot make a run: a split left empty, a combination the rule cannot train with.
public struct RunSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
