import ArgumentParser
import Foundation
import LocalLearning
import LocalLearningTools

/// Every rule on the same model, data, seed and budget; one `locallearn train` child process per
/// rule (so each rule's peak RSS is its own), then a table, CSV, JSONL logs and an HTML report.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Train several rules on the same model and data; print and save accuracy, time, memory and MACs side by side.",
        discussion: """
        Each rule runs as its own `locallearn train` process with the same model spec, seed (initial weights, \
        data order, augmentation), epochs and batch size, and the optimizer and learning rate of its recipe: \
        bp and the FA family Adam 1e-3, the LLS family AdamW 5e-3 (their reference code's recipe). Change \
        them with --set RULE.KEY=VALUE (KEY: optimizer, lr, momentum, weight-decay; RULE may be `all`). \
        FA variants and the unit-local rules (lls…, sll, dgl, auglocal) run with --diagnostics, so the report can \
        plot the update-vs-gradient angles and, per unit, the local loss and its own head's accuracy. \
        Writes to --out: results.md, results.csv, report.html (self-contained: inline SVG, no scripts, \
        no network) and RULE.jsonl per run.
        """
    )

    @Option(help: "Rules, comma-separated (default: all).")
    var rules = RuleRegistry.names.joined(separator: ",")

    @Option(help: "Model spec: \(ModelSpec.help).")
    var model = "cnn:16,M,32,M,64,A2:fc128"

    @Option(help: "Dataset: \(DatasetName.names).")
    var dataset = DatasetName.embedded.rawValue

    @Option(help: "Folder holding the dataset's files (or its parent).")
    var dataDir: String?

    @Option(help: "Training epochs per rule.")
    var epochs = 5

    @Option(help: "Batch size.")
    var batchSize = 128

    @Option(help: "Learning-rate schedule for every rule: constant, cosine, step:EPOCHS:FACTOR.")
    var schedule = "constant"

    @Option(help: "Random seed shared by every run.")
    var seed: UInt64 = 1

    @Option(help: "Seeds, comma-separated (e.g. 1,2,3): every rule runs once per seed and the table gives mean ± std of its accuracies (instead of --seed).")
    var seeds: String?

    @Option(help: "Threads per run (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Random-crop padding for every run (0 = off).")
    var cropPadding = 0

    @Flag(help: "Random horizontal flips for every run.")
    var horizontalFlip = false

    @Flag(help: "Standardise each channel with the training set's statistics.")
    var standardize = false

    @Option(help: "Fraction of the training samples every run holds out as its validation set (the same samples for every rule); the table's first accuracy is the test accuracy at the best validation epoch. 0 turns it off.")
    var valSplit: Float = 0.1

    @Option(name: .customLong("set"), help: "Override a rule's recipe or set one of its options: RULE.KEY=VALUE, e.g. lls.lr=5e-3, all.optimizer=sgd or sll.sll-codes=128 (repeatable; KEY: optimizer, lr, momentum, weight-decay, or an option the rule declares).")
    var overrides: [String] = []

    @Flag(help: "After each run, attack its final weights (FGSM and PGD, exact input gradients; noise as a control) and add a robustness table.")
    var robustness = false

    @Option(help: "--robustness: budgets ε, comma-separated (a/b fractions allowed).")
    var robustnessEps = "2/255,4/255,8/255"

    @Option(help: "--robustness: attack the first N test samples.")
    var robustnessLimit = 1000

    @Option(help: "Folder for results.md, results.csv, report.html and the per-rule JSONL logs.")
    var out = "compare-results"

    /// Rules run with --diagnostics: those whose descriptor asks for it (the FA variants: update angles,
    /// W ∠ B; the unit-local rules: per-unit loss and head accuracy).
    static func isDiagnosed(_ rule: String) -> Bool { RuleRegistry.descriptor(named: rule)?.diagnoseInComparisons ?? false }

    func validate() throws {
        guard let name = DatasetName(rawValue: dataset) else {
            throw ValidationError("unknown dataset '\(dataset)'; expected one of: \(DatasetName.names)")
        }
        if name != .embedded && dataDir == nil { throw ValidationError("--dataset \(dataset) needs --data-dir") }
        for rule in ruleList where RuleRegistry.descriptor(named: rule) == nil {
            throw ValidationError("unknown rule '\(rule)'; expected one of: \(RuleRegistry.help)")
        }
        guard !ruleList.isEmpty else { throw ValidationError("--rules is empty") }
        if robustness {
            do { _ = try RobustnessCommand.parse(robustnessArguments(checkpoint: "x", json: "x").dropFirst().map { $0 }) } catch {
                throw ValidationError("--robustness-eps/--robustness-limit: \(RobustnessCommand.message(for: error))")
            }
        }
        if let seeds { _ = try CommaList.positiveIntegers(seeds, option: "--seeds") }
        guard valSplit >= 0, valSplit < 1 else { throw ValidationError("--val-split must be a fraction in [0, 1), got \(valSplit)") }
        guard epochs > 0, batchSize > 0, threads > 0 else { throw ValidationError("--epochs, --batch-size and --threads must be ≥ 1") }
        let overrides: [RuleRecipe.Override]
        do { overrides = try parsedOverrides() } catch let error as RecipeError { throw ValidationError(error.description) }
        // Every child run's arguments pass `train`'s own validation here, before anything trains.
        for rule in ruleList {
            let recipe: RuleRecipe
            do { recipe = try RuleRecipe.resolve(rule, overrides: overrides) } catch let error as RecipeError {
                throw ValidationError(error.description)
            }
            do {
                _ = try TrainCommand.parse(Array(trainArguments(rule: rule, recipe: recipe, log: "\(out)/\(rule).jsonl").dropFirst()))
            } catch {
                throw ValidationError("rule \(rule) with its recipe and --set: \(TrainCommand.message(for: error))")
            }
        }
    }

    var ruleList: [String] { rules.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func parsedOverrides() throws -> [RuleRecipe.Override] { try overrides.map(RuleRecipe.Override.init(parsing:)) }

    /// The seeds every rule runs with: --seeds, or --seed alone.
    var seedList: [UInt64] { seeds.flatMap { try? CommaList.positiveIntegers($0, option: "--seeds").map(UInt64.init) } ?? [seed] }

    func run() throws {
        let name = DatasetName(rawValue: dataset)!
        let network: Model
        do {
            network = try ModelSpec.build(model, inputShape: name.sampleShape, classes: name.classes, seed: seed)
        } catch let error as ModelError {
            throw CommandError(error.description)
        }
        try OutputPath.prepareDirectory(out, option: "--out")
        let overrides = try parsedOverrides()
        print("locallearn compare: \(ruleList.joined(separator: ", ")) on \(model), \(dataset), \(epochs) epochs, batch \(batchSize), "
              + "seed\(seedList.count > 1 ? "s" : "") \(seedList.map(String.init).joined(separator: ",")), \(threads) thread\(threads == 1 ? "" : "s") per run → \(out)/")
        var rows: [ComparisonRow] = [], runs: [ComparisonRow] = [], attacked: [(rule: String, runs: [[RobustnessTable.Record]])] = []
        let seeds = seedList
        for rule in ruleList {
            let recipe = try RuleRecipe.resolve(rule, overrides: overrides)
            let row: ComparisonRow
            if let reason = RuleRegistry.make(rule, seed: seed)?.refusal(for: network) {
                row = ComparisonRow(rule: rule, status: .notApplicable(reason: reason), recipe: recipe)
                runs.append(row)
            } else {
                print("── \(rule): \(recipe.optimizer.rawValue) lr \(recipe.learningRate)" + (seeds.count > 1 ? ", seeds \(seeds.map(String.init).joined(separator: ","))" : ""))
                var perSeed: [ComparisonRow] = [], records: [[RobustnessTable.Record]] = []
                for s in seeds {
                    let name = seeds.count > 1 ? "\(rule).seed\(s)" : rule
                    var run = try runChild(rule: rule, recipe: recipe, seed: s, log: "\(out)/\(name).jsonl")
                    run.seed = s
                    perSeed.append(run)
                    if robustness, run.status == .done { records.append(try attack(name)) }
                }
                if robustness { attacked.append((rule, records)) }
                runs += perSeed
                row = seeds.count > 1 ? ComparisonRow.combining(perSeed, seeds: seeds) : perSeed[0]
            }
            rows.append(row)
            print(ComparisonTable.markdown([row]).split(separator: "\n").last.map(String.init) ?? "")
        }
        var markdown = ComparisonTable.markdown(rows) + ComparisonTable.unitsMarkdown(rows)
        if robustness, case let table = RobustnessTable.markdown(attacked), !table.isEmpty {
            markdown += "\nAccuracy under attack of each run's final weights, first \(robustnessLimit) test samples (FGSM; PGD 10 steps of "
                + "2.5·ε/10 from a random start; Gaussian noise of deviation ε as a control; ε on pixels in [0, 1]"
                + (seeds.count > 1 ? "; mean ± std over the seeds" : "") + "):\n\n" + table
        }
        print("\n" + markdown, terminator: "")
        try markdown.write(toFile: "\(out)/results.md", atomically: true, encoding: .utf8)
        try ComparisonTable.csv(runs).write(toFile: "\(out)/results.csv", atomically: true, encoding: .utf8)
        let seedText = seeds.count > 1 ? "seeds \(seeds.map(String.init).joined(separator: ",")) (accuracies mean ± std, curves the mean)" : "seed \(seeds[0])"
        let subtitle = "\(model) on \(dataset), \(epochs) epochs, batch \(batchSize), schedule \(schedule), \(seedText), "
            + "\(threads) thread\(threads == 1 ? "" : "s") per run. Engine memory: the engine's own peak of held activations, "
            + "scratch and in-flight tensors plus parameters, gradients, optimizer and rule state; RSS: each run's process."
        try HTMLReport.render(title: "locallearn compare", subtitle: subtitle, rows: rows)
            .write(toFile: "\(out)/report.html", atomically: true, encoding: .utf8)
        print("wrote \(out)/results.md, \(out)/results.csv, \(out)/report.html and one JSONL log per run")
        let failed = rows.filter { if case .failed = $0.status { true } else { false } }.map(\.rule)
        if !failed.isEmpty {
            throw CommandError("\(failed.count) of \(rows.count) runs failed (\(failed.joined(separator: ", "))); their rows give the reason")
        }
    }

    /// The `train` arguments of one rule's run.
    func trainArguments(rule: String, recipe: RuleRecipe, log: String, seed: UInt64? = nil) -> [String] {
        let seed = seed ?? self.seed
        var args = ["train", "--rule", rule, "--model", model, "--dataset", dataset, "--epochs", "\(epochs)",
                    "--batch-size", "\(batchSize)", "--seed", "\(seed)", "--threads", "\(threads)",
                    "--optimizer", recipe.optimizer.rawValue, "--lr=\(recipe.learningRate)", "--momentum=\(recipe.momentum)",
                    "--weight-decay=\(recipe.weightDecay)", "--schedule", schedule, "--crop-padding", "\(cropPadding)", "--log", log,
                    "--val-split=\(valSplit)"]
        if let dataDir { args += ["--data-dir", dataDir] }
        if horizontalFlip { args.append("--horizontal-flip") }
        if standardize { args.append("--standardize") }
        if Self.isDiagnosed(rule) { args.append("--diagnostics") }
        if robustness {
            // The final weights, for the attacks (the log's name is the run's).
            let name = URL(fileURLWithPath: log).deletingPathExtension().lastPathComponent
            args += ["--checkpoint-dir", "\(out)/checkpoints/\(name)", "--checkpoint-every", "\(epochs)", "--overwrite"]
        }
        // --set RULE.OPTION=VALUE for the rule's own options (validate() has parsed them).
        for o in (try? parsedOverrides()) ?? [] where o.rule == rule && !RuleRecipe.keys.contains(o.key) { args.append("--\(o.key)=\(o.value)") }
        return args
    }

    /// `robustness` arguments for the weights in `checkpoint`.
    func robustnessArguments(checkpoint: String, json: String) -> [String] {
        ["robustness", "--checkpoint", checkpoint, "--attack", "fgsm,pgd,noise", "--eps", robustnessEps, "--limit", "\(robustnessLimit)",
         "--threads", "\(threads)", "--json", json]
    }

    /// Attacks the final weights of run `name` (saved in its checkpoint folder) in a child process.
    func attack(_ name: String) throws -> [RobustnessTable.Record] {
        let json = "\(out)/\(name).robustness.json"
        let ended = try ChildProcess.run(robustnessArguments(checkpoint: "\(out)/checkpoints/\(name)", json: json))
        if ended.status == 130 { throw ExitCode(130) }
        guard ended.status == 0 else { throw CommandError("robustness of \(name): \(ended.message)") }
        do { return try RobustnessTable.read(json) } catch { throw CommandError("robustness of \(name): cannot read \(json): \(OutputPath.plainReason(error))") }
    }

    func runChild(rule: String, recipe: RuleRecipe, seed: UInt64, log: String) throws -> ComparisonRow {
        let ended = try ChildProcess.run(trainArguments(rule: rule, recipe: recipe, log: log, seed: seed))
        if ended.status == 130 {
            print("compare interrupted in rule \(rule); the finished rules' logs are in \(out)/")
            throw ExitCode(130)
        }
        guard ended.status == 0 else {
            FileHandle.standardError.write(Data(ended.errors.utf8))
            return ComparisonRow(rule: rule, status: .failed(message: ended.message), recipe: recipe)
        }
        do {
            return try RunLogReader.row(rule: rule, recipe: recipe, path: log)
        } catch let error as RecipeError {
            return ComparisonRow(rule: rule, status: .failed(message: error.description), recipe: recipe)
        }
    }
}

