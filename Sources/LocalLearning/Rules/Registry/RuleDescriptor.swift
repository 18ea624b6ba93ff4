/// Everything the tools need to know about a rule, declared next to it: the name users type, a
/// one-line summary, its options (typed settings, each declared once), the recipe a comparison
/// trains it with, its default initialiser, and how to build it. `train`, `compare`, `costs`, the
/// experiments, configs and checkpoints read this; none of them names a rule type.
///
/// Settings travel as text (`["sll-codes": "128"]`): parsed from the command line or a YAML file,
/// checked by the option that declares them, and saved in checkpoints with every option's value
/// (`resolve`), so a resumed run is built from exactly what the original was.
public struct RuleDescriptor {
    /// An option as the tools list it.
    public struct Option: Sendable {
        public let name: String
        public let help: String
        public let kind: RuleOptionKind
        public let choices: [String]
        /// Its value in the rule's default settings.
        public let defaultValue: String
    }

    public let name: String
    public let summary: String
    public let options: [Option]
    /// Optimizer and learning rate of the rule's runs in a comparison, and its source.
    public let recipe: RuleRecipe
    /// The weight initialiser its runs use unless `--initializer` says otherwise.
    public let initializer: Initializer
    /// Whether `compare` runs it with `--diagnostics` (angles to the gradient, per-unit losses).
    public let diagnoseInComparisons: Bool
    /// The value an option takes in a saved configuration that predates it, where that differs from
    /// today's default: what the run was trained with.
    public let legacyOptionValues: [String: String]
    private let settle: ([String: String]) throws -> [String: String]
    private let build: ([String: String], UInt64) throws -> LearningRule

    /// - Parameters:
    ///   - defaults: the settings a rule gets when no option is given.
    ///   - check: a refusal across options (nil when the settings are acceptable).
    ///   - make: the rule for settled settings and a seed (its random state derives from the seed).
    public init<Settings>(name: String, summary: String, defaults: Settings, options: [RuleOption<Settings>] = [],
                          check: @escaping (Settings) -> String? = { _ in nil },
                          recipe: RuleRecipe = .reference, initializer: Initializer = .pytorchDefault,
                          diagnoseInComparisons: Bool = false, legacyOptionValues: [String: String] = [:],
                          make: @escaping (Settings, UInt64) -> LearningRule) {
        self.name = name
        self.summary = summary
        self.options = options.map { Option(name: $0.name, help: $0.help, kind: $0.kind, choices: $0.choices, defaultValue: $0.read(defaults)) }
        self.recipe = recipe
        self.initializer = initializer
        self.diagnoseInComparisons = diagnoseInComparisons
        self.legacyOptionValues = legacyOptionValues
        func settings(_ given: [String: String]) throws -> Settings {
            var settings = defaults
            for (key, _) in given where !options.contains(where: { $0.name == key }) { throw Self.unknown(key, rule: name) }
            for option in options { if let text = given[option.name] { try option.write(&settings, text) } }
            if let problem = check(settings) { throw RuleOptionError("rule \(name): \(problem)") }
            return settings
        }
        settle = { given in
            let value = try settings(given)
            return Dictionary(uniqueKeysWithValues: options.map { ($0.name, $0.read(value)) })
        }
        build = { given, seed in make(try settings(given), seed) }
    }

    /// Every option's value — the defaults with `given` applied — after checking each; throws
    /// `RuleOptionError` naming the option for an unknown name or a bad value.
    public func resolve(_ given: [String: String]) throws -> [String: String] { try settle(given) }

    /// A fresh rule with these options; its random state (feedback matrices, projections) derives from `seed`.
    public func make(seed: UInt64 = 1, options: [String: String] = [:]) throws -> LearningRule { try build(options, seed) }

    /// The refusal of option `key` for `rule`, naming the rules that do take it.
    static func unknown(_ key: String, rule: String) -> RuleOptionError {
        let owners = RuleRegistry.all.filter { $0.options.contains { $0.name == key } }.map(\.name)
        return RuleOptionError(owners.isEmpty ? "unknown option '--\(key)'" : "--\(key) is an option of \(owners.joined(separator: ", ")), not of \(rule)")
    }

    /// Options from command-line words: `--name value`, `--name=value`, or a flag alone (`--name`).
    public func parse(arguments: [String]) throws -> [String: String] {
        var given: [String: String] = [:]
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let word = arguments[index]
            index += 1
            guard word.hasPrefix("--"), word.count > 2 else { throw RuleOptionError("unexpected argument '\(word)'") }
            let body = word.dropFirst(2)
            let name = String(body.prefix { $0 != "=" })
            guard let option = options.first(where: { $0.name == name }) else { throw Self.unknown(name, rule: self.name) }
            if let equals = body.firstIndex(of: "=") {
                given[name] = String(body[body.index(after: equals)...])
            } else if option.kind == .flag {
                given[name] = "true"
            } else {
                guard index < arguments.endIndex else { throw RuleOptionError("--\(name) needs a value") }
                given[name] = arguments[index]
                index += 1
            }
        }
        return given
    }
}

extension RuleRecipe {
    /// Adam 1e-3: the PyTorch reference's smallconv recipe, for rules without a published one.
    public static let reference = RuleRecipe(optimizer: .adam, learningRate: 1e-3)
}
