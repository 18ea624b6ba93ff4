import ArgumentParser
import Foundation
import LocalLearning
import LocalLearningMPI

struct TrainCommand: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "train",
            abstract: "Train a model with a learning rule; with no arguments, a small MLP on the embedded Fashion-MNIST subset.",
            discussion: "Each rule takes its own options, given like the others (e.g. --sll-codes 128; in a --config file, "
                + "sll-codes: 128); `locallearn rules RULE` explains them.\n\n"
                + RuleRegistry.all.map { rule in
                    "\(rule.name): " + (rule.options.isEmpty ? "none" : rule.options.map { "--\($0.name)" }.joined(separator: ", "))
                }.joined(separator: "\n")
        )
    }

    @Option(help: "Learning rule: \(RuleRegistry.help).")
    var rule = "bp"

    @Option(help: "Model spec: \(ModelSpec.help).")
    var model = "mlp:784-256x2-10:relu"

    @Option(help: "Dataset.")
    var dataset = DatasetName.embedded

    @Option(help: "Folder holding the dataset's files (or its parent), e.g. ../shared/datasets/mnist.")
    var dataDir: String?

    @Option(help: "Training epochs.")
    var epochs = 10

    @Option(help: "Batch size.")
    var batchSize = 128

    @Option(help: "Optimizer.")
    var optimizer = OptimizerKind.adam

    @Option(help: "Base learning rate.")
    var lr: Float = 1e-3

    @Option(help: "SGD momentum, in [0, 1).")
    var momentum: Float = 0.9

    @Flag(help: "Use Nesterov momentum with SGD.")
    var nesterov = false

    @Option(help: "Weight decay ≥ 0 (L2 for sgd/adam/adamax, decoupled for adamw).")
    var weightDecay: Float = 0

    @Option(help: "Learning-rate schedule: constant, cosine, step:EPOCHS:FACTOR (e.g. step:30:0.1).")
    var schedule = "constant"

    @Option(help: "Linear warm-up epochs before a cosine schedule.")
    var warmupEpochs = 0

    @Option(help: "Random seed: initialisation, data order, dropout and augmentation.")
    var seed: UInt64 = 1

    @Option(help: "BLAS threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Random-crop augmentation: zero padding in pixels (0 = off).")
    var cropPadding = 0

    @Flag(help: "Random horizontal-flip augmentation.")
    var horizontalFlip = false

    @Flag(help: "Standardise each channel with the training set's mean and standard deviation (default: pixels/255 only).")
    var standardize = false

    @Option(help: "Use only the first N training samples.")
    var trainLimit: Int?

    @Option(help: "Keep only some classes: K (the first K) or a list such as 0,3,5 (relabelled 0…k−1 in that order); the classifier gets k outputs.")
    var classes: String?

    @Option(help: "Hold out this fraction of the training samples (a fixed draw from --seed) as a validation set, evaluated after every epoch; the summary then reports the test accuracy at the best validation epoch. 0: none.")
    var valSplit: Float = 0

    @Option(help: "Weight initialiser (default: the rule's — he-normal-conv for dgl and auglocal, as their reference code; pytorch otherwise).")
    var initializer: Initializer?

    @Option(help: "Write the configuration and one JSON record per epoch to this JSONL file.")
    var log: String?

    @Flag(help: "After each epoch, measure on a fixed training batch the angle between each layer's update and the true backprop gradient (and, for FA variants, the angle between W and B and ‖B‖/‖W‖); printed and logged.")
    var diagnostics = false

    @Option(help: "Save a checkpoint (safetensors: weights, rule and optimizer state, position) in this folder; Ctrl-C also saves one here.")
    var checkpointDir: String?

    @Option(help: "With --checkpoint-dir: save after every N epochs (and after the last).")
    var checkpointEvery = 1

    @Option(help: "Continue the run saved in this checkpoint folder (or .safetensors file), with its saved configuration; the result is bit-identical to an uninterrupted run.")
    var resume: String?

    @Option(help: "Pipeline the local rules (lls, lls-m, lls-mxm, sll, dgl, auglocal) over this many stages, one thread each, balanced by MACs (with --per-unit-stages: this many threads sharing one stage per unit); each thread runs BLAS on one thread.")
    var stages = 1

    @Flag(help: "Under mpirun -np N: every rank trains on its share of each batch and gradients are averaged with MPI_Allreduce (any rule but reclra).")
    var dataParallel = false

    @Option(help: "With --stages: the units where stages 2, 3, … begin, e.g. 2,4 (instead of balancing by MACs).")
    var stageBoundaries: String?

    @Flag(help: "With --stages S (threads): make every unit its own stage (the classifier one more) and let the S threads share them, a free thread taking the deepest stage with a batch waiting; balances units of unequal cost. Same weights as without it.")
    var perUnitStages = false

    @Flag(help: "Local rules (lls, lls-m, lls-mxm, sll, dgl, auglocal): allocate a unit's parameter gradients only while it trains, so at most one unit's are live (less memory, a little slower).")
    var transientGradients = false

    @Option(name: .customLong("on-nan"), help: "When a step's loss is NaN/Inf: stop (naming the rule, block, epoch and step; the last checkpoint stays) or skip-batch (undo the step and go on; stops after 10 in a row).")
    var onNaN = NonFinitePolicy.stop

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("The rule's own options (listed above; locallearn rules RULE explains them).", valueName: "rule-options"))
    var ruleArguments: [String] = []

    @Option(help: "YAML file of options, keyed by their names here without the dashes (batch-size: 128, rule: lls, …); options given on the command line win.")
    var config: String?

    @Flag(help: "Print the model's blocks and layers before training.")
    var showModel = false

    @Flag(help: "Start a new run even where --checkpoint-dir holds another run's checkpoint (which is then replaced).")
    var overwrite = false

    @Flag(help: "With --val-split and --checkpoint-dir: also keep the weights of the best validation epoch in best.safetensors (exported form: eval reads it).")
    var keepBest = false

    func parseSchedule() throws -> LearningRateSchedule {
        let parts = schedule.split(separator: ":").map(String.init)
        switch parts.first {
        case "constant" where parts.count == 1: return .constant
        case "cosine" where parts.count == 1: return .cosine(warmupSteps: 0)
        case "step" where parts.count == 3:
            if let every = Int(parts[1]), every > 0, let factor = Float(parts[2]), factor > 0 {
                return .step(everyEpochs: every, factor: factor)
            }
        default: break
        }
        throw ValidationError("bad --schedule '\(schedule)'; expected constant, cosine or step:EPOCHS:FACTOR")
    }

    var runConfiguration: RunConfiguration {
        RunConfiguration(rule: rule, model: model, dataset: dataset.rawValue, dataDir: dataDir.map(Self.absolutePath),
                         epochs: epochs, batchSize: batchSize, optimizer: optimizer.rawValue, learningRate: lr, momentum: momentum, nesterov: nesterov,
                         weightDecay: weightDecay, schedule: schedule, warmupEpochs: warmupEpochs, seed: seed,
                         threads: threads, cropPadding: cropPadding, horizontalFlip: horizontalFlip,
                         trainLimit: trainLimit, initializer: settings.resolvedInitializer.rawValue, standardize: standardize,
                         diagnostics: diagnostics, onNan: onNaN.rawValue,
                         stages: stages, stageBoundaries: stageBoundaries, perUnitStages: perUnitStages, transientGradients: transientGradients,
                         valSplit: valSplit, classes: classes, ruleOptions: (try? resolvedRuleOptions()) ?? [:])
    }

    /// The run these options describe, for the library's `TrainingRun`.
    var settings: TrainingRun.Settings {
        var settings = TrainingRun.Settings(model: model, rule: rule)
        settings.ruleOptions = (try? resolvedRuleOptions()) ?? [:]
        settings.initializer = initializer
        (settings.optimizer, settings.learningRate, settings.momentum) = (optimizer, lr, momentum)
        (settings.nesterov, settings.weightDecay) = (nesterov, weightDecay)
        settings.schedule = (try? parseSchedule()) ?? .constant
        (settings.warmupEpochs, settings.epochs, settings.batchSize, settings.seed) = (warmupEpochs, epochs, batchSize, seed)
        settings.augmentation = Augmentation(cropPadding: cropPadding, horizontalFlip: horizontalFlip)
        (settings.onNonFiniteLoss, settings.transientGradients, settings.monitorUnits) = (onNaN, transientGradients, diagnostics)
        return settings
    }

    /// `--classes` parsed (validate() has checked it).
    var classSelection: ClassSelection? { classes.flatMap(ClassSelection.init(parsing:)) }


    /// The rule's options: every one it declares, with the values given (command line, config file or
    /// saved run) and the defaults for the rest; throws naming a bad one.
    func resolvedRuleOptions() throws -> [String: String] {
        let descriptor = try RuleRegistry.descriptor(for: rule)
        return try descriptor.resolve(descriptor.parse(arguments: ruleArguments))
    }

    func run() throws {
        defer { MPIWorld.finalize() }
        if let config {
            var merged = try applying(configFile: config, arguments: CommandLine.arguments)
            merged.config = nil
            return try merged.run()
        }
        guard let resume else { return try execute(resuming: nil) }
        let path = resume.hasSuffix(".safetensors") ? resume : "\(resume)/\(TrainingCheckpoint.fileName)"
        do {
            let file = try Safetensors.read(path)
            let contents = try TrainingCheckpoint.contents(of: file, path: path)
            guard let saved = RunConfiguration.decode(contents.configuration) else {
                throw CommandError("\(path): the saved configuration cannot be read by this version")
            }
            let ranks = MPIWorld.isLaunchedWithSeveralRanks ? MPIWorld.shared.size : 1
            if let saved = saved.mpiStageRanks, saved != ranks {
                throw CommandError("\(path) was saved by \(saved) MPI stage ranks, each holding its stage's state: resume it with "
                                   + "mpirun -np \(saved) locallearn train --resume \(resume)")
            }
            var command = try resumed(from: saved, epochsDone: contents.reports.count, path: path,
                                      given: Self.optionsGiven(CommandLine.arguments))
            if command.checkpointDir == nil { command.checkpointDir = URL(fileURLWithPath: path).deletingLastPathComponent().path }
            if ranks == 1 || MPIWorld.shared.rank == 0 {
                let state = contents.reports.count >= command.epochs
                    ? "all \(command.epochs) epochs done (pass --epochs N to train it further)"
                    : "epoch \(contents.position.epoch + 1) of \(command.epochs), step \(contents.position.step)"
                print("resuming \(path): \(state), with its saved configuration")
            }
            try command.execute(resuming: (file, path))
        } catch let error as CheckpointError {
            throw CommandError(error.description)
        }
    }

    func execute(resuming checkpoint: (file: Safetensors.File, path: String)?) throws {
        // Pipeline stages call BLAS concurrently: one BLAS thread each.
        Runtime.configure(threads: stages > 1 ? 1 : threads)
        try checkOutputs(resuming: checkpoint != nil)
        let mpi = try mpiRole()
        let run: TrainingRun
        do {
            let options = RunData.Options(trainLimit: trainLimit, classes: classSelection, validationFraction: valSplit,
                                          standardize: standardize, seed: seed)
            let data = try RunData(dataset.load(directory: dataDir), options: options)
            run = try TrainingRun(settings, data: data, trainedRule: mpi.trainedRule)
        } catch let error as DataError {
            throw CommandError(error.description)
        } catch let error as RunSetupError {
            throw CommandError(error.description)
        } catch let error as RuleOptionError {
            throw CommandError(error.description)
        } catch let error as ModelError {
            if case let .unsupportedRule(_, _, reason) = error { throw CommandError("rule \(rule) cannot train \(model): \(reason)") }
            throw CommandError(error.description)
        }
        guard !(transientGradients && diagnostics) else {
            throw CommandError("--diagnostics reads every gradient after a step; leave out --transient-gradients")
        }
        let (network, learningRule, opt, trainer) = (run.model, run.rule, run.optimizer, run.trainer)
        let (train, validation, test) = (run.data.train, run.data.validation, run.data.test)
        let plan = try pipelinePlan(rule: learningRule, model: network)
        trainer.pipeline = plan
        trainer.pipelineThreads = perUnitStages ? stages : nil
        trainer.stopRequested = { Runtime.interruptRequested }
        if let checkpoint, case let .stages(world) = mpi, world.rank > 0 {
            try Self.restoreStage(of: world, beside: checkpoint, model: network, rule: learningRule, optimizer: opt)
        }
        let stagePipeline = try mpi.stagePipeline(plan: plan, rule: learningRule, model: network, optimizer: opt)
        guard mpi.runsTrainingLoop else { return }
        defer { stagePipeline?.shutdown() }
        if let stagePipeline { trainer.makePipeline = { _, _ in stagePipeline } }

        print("locallearn train: rule \(rule), model \(model) (\(network.parameterCount) parameters), dataset \(dataset.rawValue) "
              + "(\(train.count) train\(validation.map { " / \($0.count) validation" } ?? "") / \(test.count) test), \(optimizer.rawValue) lr \(lr) \(schedule), batch \(batchSize), "
              + "seed \(seed), \(threads) thread\(threads == 1 ? "" : "s")")
        if let plan {
            let workers = perUnitStages ? "shared by \(stages) threads" : "on \(plan.count) \(stagePipeline == nil ? "threads" : "MPI ranks")"
            print("pipeline: \(plan.count) stages \(workers), 1 BLAS thread each (\(plan))"
                  + (threads != 1 ? "; --threads \(threads) ignored" : ""))
        }
        if showModel { print(network.summary) }
        if case let .dataParallel(world) = mpi { print("data-parallel over \(world.size) MPI ranks: each takes 1/\(world.size) of every batch") }
        let runLog = mpi.writesFiles ? try log.map { try RunLog(path: $0) } : nil
        var configuration = runConfiguration
        if case let .stages(world) = mpi { configuration.mpiStageRanks = world.size }
        try runLog?.write(type: "config", configuration)
        do {
            let macs = learningRule.macsPerSample(network)
            print("MACs per training sample: forward \(Self.count(macs.forward)), learning signal \(Self.count(macs.signal)), "
                  + "weight update \(Self.count(macs.update))")
            try runLog?.write(type: "macs", macs)
            // After macsPerSample, which prepared the rule: listing its parameters draws nothing new.
            let own = learningRule.ownParameters(network)
            if !own.isEmpty {
                let count = own.reduce(0) { $0 + $1.parameter.value.count }
                print("the rule's own trained parameters (not used at inference): \(count), "
                      + String(format: "%.1f%% of the model's", 100 * Double(count) / Double(max(network.parameterCount, 1))))
            }
        }

        let conservation = diagnostics ? Self.conservationTracker(rule: learningRule, model: network) : nil
        let probe = train.prefix(batchSize)
        let probeBatch = Batch(images: probe.images, labels: probe.labels)
        let progress = ProgressLine(enabled: isatty(STDERR_FILENO) == 1)
        var start = TrainingPosition()
        var done: [EpochReport] = []
        if let checkpoint {
            let contents: TrainingCheckpoint.Contents
            do {
                contents = try TrainingCheckpoint.restore(checkpoint.file, path: checkpoint.path, model: network, rule: learningRule, optimizer: opt)
            } catch let error as CheckpointError {
                throw CommandError(error.description)
            }
            (start, done) = (contents.position, contents.reports)
            // The log starts again: it gets the restored epochs, so it holds the whole run.
            for report in done {
                print(Self.format(report, epochs: epochs))
                try runLog?.write(type: "epoch", report)
            }
        }
        let configurationJSON = try String(decoding: JSONEncoder().encode(configuration), as: UTF8.self)
        func saveCheckpoint(_ directory: String, _ position: TrainingPosition) throws {
            do {
                try TrainingCheckpoint.save(to: directory, model: network, rule: learningRule, optimizer: opt, position: position,
                                            reports: done, configuration: configurationJSON)
                try stagePipeline?.saveStages(to: directory, position: position)
            } catch let error as CheckpointError {
                throw CommandError(error.description)
            }
        }
        Runtime.installInterruptHandler()
        let reports: [EpochReport]
        do {
            reports = try trainer.run(from: start, reports: done,
            progress: { epoch, step, steps, stats in
                progress.update("epoch \(epoch)/\(epochs) step \(step)/\(steps)  loss \(String(format: "%.4f", stats.loss))",
                                fraction: Double(step) / Double(steps))
            },
            stepDone: { position in
                guard mpi.agreeOnInterrupt(Runtime.interruptRequested) else { return }
                progress.clear()
                let directory = checkpointDir ?? "locallearn-interrupted"
                if mpi.writesFiles { try saveCheckpoint(directory, position) }
                throw Interrupted(directory: directory, position: position)
            },
            epochDone: { report in
                progress.clear()
                print(Self.format(report, epochs: epochs))
                done.append(report)
                if keepBest, let checkpointDir, mpi.writesFiles, done.bestValidationEpoch?.epoch == report.epoch {
                    do {
                        try Safetensors.write(ModelWeights.file(of: network, metadata: ["model": model, "format": "locallearn",
                                                                                        "epoch": "\(report.epoch)"]),
                                              to: "\(checkpointDir)/best.safetensors")
                    } catch let error as CheckpointError {
                        throw CommandError(error.description)
                    }
                }
                if let checkpointDir, mpi.writesFiles, report.epoch % checkpointEvery == 0 || report.epoch == epochs {
                    try saveCheckpoint(checkpointDir, TrainingPosition(epoch: report.epoch, step: 0))
                }
                try runLog?.write(type: "epoch", report)
                if diagnostics {
                    let record = Self.diagnose(rule: learningRule, model: network, batch: probeBatch, epoch: report.epoch,
                                               conservation: conservation)
                    try runLog?.write(type: "diagnostics", record)
                }
            })
        } catch let interrupted as Interrupted {
            print("interrupted at epoch \(interrupted.position.epoch + 1), step \(interrupted.position.step): checkpoint saved in \(interrupted.directory)/\(TrainingCheckpoint.fileName)")
            print("resume with: locallearn train --resume \(interrupted.directory)")
            throw ExitCode(130)
        }
        if plan == nil {
            let memory = run.memoryReport
            print("peak training memory (engine): \(Self.mebibytes(memory.totalBytes)) = activations \(Self.mebibytes(memory.peakActivationBytes))"
                  + " + parameters \(Self.mebibytes(memory.parameterBytes)) + gradients \(Self.mebibytes(memory.gradientBytes))"
                  + " + optimizer \(Self.mebibytes(memory.optimizerBytes)) + rule state \(Self.mebibytes(memory.ruleStateBytes))")
            try runLog?.write(type: "memory", memory)
        } else {
            print("peak training memory (engine): not measured with --stages > 1 (stages run concurrently); peak RSS below")
        }
        let best = reports.max { $0.testAccuracy < $1.testAccuracy }!
        let last = reports.last!
        if mpi.writesFiles, let runLog {
            struct Confusion: Codable { var classes: Int; var matrix: [[Int]] }
            // Rows: true class; columns: predicted class; the final weights on the test split.
            try runLog.write(type: "confusion", Confusion(classes: test.classes,
                                                          matrix: run.confusionMatrix))
        }
        let chosen = reports.bestValidationEpoch
        let atValidation = chosen.map { String(format: "test accuracy at the best validation epoch (%d, validation %.2f%%) %.2f%%, ",
                                                       $0.epoch, $0.validationAccuracy! * 100, $0.testAccuracy * 100) } ?? ""
        print("done: " + atValidation + String(format: "final test accuracy %.2f%%, best test %.2f%% (epoch %d), %.1f s, peak RSS %.0f MiB",
                                               last.testAccuracy * 100, best.testAccuracy * 100, best.epoch, last.elapsedSeconds,
                                               Double(Runtime.peakResidentBytes) / 1_048_576))
        try runLog?.write(type: "summary", Summary(finalTestAccuracy: last.testAccuracy, bestTestAccuracy: best.testAccuracy,
                                                   bestEpoch: best.epoch, elapsedSeconds: last.elapsedSeconds,
                                                   peakResidentBytes: Runtime.peakResidentBytes,
                                                   bestValidationEpoch: chosen?.epoch, testAccuracyAtBestValidation: chosen?.testAccuracy))
    }
}
