import ArgumentParser
import Foundation
import LocalLearning
import LocalLearningTools

/// Reproductions of the papers' experiments, one subcommand each.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run a paper's experiment and print its table.",
        subcommands: [FAConservationCommand.self, FAClassesCommand.self, MemoryDepthCommand.self]
    )
}

struct FAConservationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fa-conservation",
        abstract: "Noisy-MNIST 2-layer leaky-ReLU networks under BP, FA, adaFA, sign-FA: accuracy, alignment and the FA conservation law.",
        discussion: """
        Full-batch plain SGD on a random subset of MNIST with a fraction of its training labels changed \
        (clean test set). Per rule and width: final train accuracy on the noisy labels, test accuracy, the \
        angle between the output layer's W and B, the angle between the hidden layer's update and the true \
        gradient, and how far the conservation law's quantity moved (see ConservationLaw in the library).
        """
    )

    @Option(help: "Folder holding the MNIST IDX files.")
    var dataDir: String

    @Option(help: "Full-batch training steps per run.")
    var epochs = 3000

    @Option(help: "Divide the learning rate by 10 every this many steps.")
    var decayEvery = 1000

    @Option(help: "Hidden widths, comma-separated.")
    var widths = "15,50,200"

    @Option(help: "Rules, comma-separated.")
    var rules = "bp,fa,adafa,signfa"

    @Option(help: "Training subset size.")
    var samples = 4000

    @Option(help: "Fraction of training labels changed to another class.")
    var labelNoise: Float = 0.2

    @Option(help: "Initial learning rate.")
    var lr: Float = 0.05

    @Option(help: "Random seed (subset, label noise, initialisation, feedback matrices).")
    var seed: UInt64 = 1

    @Option(help: "BLAS threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Also write the table as Markdown to this file.")
    var markdown: String?

    func validate() throws {
        guard epochs > 0, samples > 0, lr > 0, lr.isFinite, decayEvery > 0, (0..<1).contains(labelNoise) else {
            throw ValidationError("--epochs, --samples, --decay-every and --lr must be positive (and finite) and --label-noise in [0, 1)")
        }
        guard threads >= 1, threads <= 1024 else { throw ValidationError("--threads must be in 1…1024, got \(threads)") }
        for width in try CommaList.positiveIntegers(widths, option: "--widths") {
            let spec = "mlp:784-\(width)-10"
            try ModelSpec.validateFits(spec, inputShape: [784], classes: 10, batchSize: min(samples, 60_000), context: "--widths: ")
        }
        _ = try CommaList.ruleNames(rules)
    }

    func run() throws {
        Runtime.configure(threads: threads)
        if let markdown { try OutputPath.checkFile(markdown, option: "--markdown") }
        let splits: DatasetSplits
        do { splits = try DatasetName.mnist.load(directory: dataDir) } catch let error as DataError {
            throw CommandError(error.description)
        }
        var configuration = FAConservationExperiment.Configuration()
        configuration.epochs = epochs
        configuration.widths = try CommaList.positiveIntegers(widths, option: "--widths")
        configuration.rules = try CommaList.ruleNames(rules)
        configuration.samples = samples
        configuration.labelNoise = labelNoise
        configuration.learningRate = lr
        configuration.decayEvery = decayEvery
        configuration.seed = seed
        print("fa-conservation: \(samples) MNIST samples, \(Int(labelNoise * 100))% labels changed, widths \(widths), "
              + "rules \(rules), \(epochs) full-batch SGD steps from lr \(lr) (÷10 every \(decayEvery)), seed \(seed)")
        let rows = try FAConservationExperiment.run(configuration, train: splits.train, test: splits.test) { row in
            print(String(format: "  width %4d  %-7@ train %6.2f%%  test %6.2f%%  drift %.2e  |R−1| %.2e  (%.0f s)",
                         row.width, row.rule as NSString, row.trainAccuracy * 100, row.testAccuracy * 100,
                         row.conservationDrift, row.ratioDeviation, row.seconds))
        }
        let table = FAConservationExperiment.markdown(rows)
        print("\n" + table)
        if let markdown { try (table + "\n").write(toFile: markdown, atomically: true, encoding: .utf8) }
    }
}
