import ArgumentParser
import Foundation
import LocalLearning
import LocalLearningTools

/// FA's generalisation as the number of classes grows ("Implicit Regularization in Feedback Alignment").
struct FAClassesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fa-classes",
        abstract: "Train/test accuracy, generalisation gap and W∠B of BP and the FA variants on the first k classes of each dataset.",
        discussion: """
        For each dataset, k in --classes (the first k classes, relabelled), rule and seed: the model trains with \
        Adam and a cosine schedule on the standardised k-class subset; the table gives mean ± std over seeds of \
        the train accuracy (evaluation mode, on the training subset), the test accuracy, their gap, and the mean \
        angle between each weighted layer's W and its feedback B (FA variants).
        """
    )

    @Option(help: "Datasets, comma-separated: \(DatasetName.names).")
    var datasets = "fashion-mnist,cifar10"

    @Option(help: "Folder holding one folder per dataset (e.g. ../shared/datasets; cifar10 is also found in cifar10-jpeg/).")
    var dataDir: String

    @Option(help: "Class counts k, comma-separated (each run keeps the first k classes).")
    var classes = "2,5,10"

    @Option(help: "Rules, comma-separated.")
    var rules = "bp,fa,signfa,adafa"

    @Option(help: "Seeds, comma-separated (mean ± std over them).")
    var seeds = "1"

    @Option(help: "Epochs per run.")
    var epochs = 20

    @Option(help: "Model spec.")
    var model = "lenet"

    @Option(help: "Use only the first N training samples of each subset.")
    var trainLimit: Int?

    @Option(help: "BLAS threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Also write the table as Markdown to this file.")
    var markdown: String?

    var datasetList: [DatasetName] { datasets.split(separator: ",").compactMap { DatasetName(rawValue: String($0)) } }

    func validate() throws {
        guard !datasetList.isEmpty, datasetList.count == datasets.split(separator: ",", omittingEmptySubsequences: false).count else {
            throw ValidationError("--datasets must name datasets among \(DatasetName.names), got '\(datasets)'")
        }
        let counts = try CommaList.positiveIntegers(classes, option: "--classes")
        for name in datasetList where counts.contains(where: { $0 < 2 || $0 > name.classes }) {
            throw ValidationError("--classes: every k must be in 2…\(name.classes) for \(name.rawValue), got \(classes)")
        }
        _ = try CommaList.ruleNames(rules)
        _ = try CommaList.positiveIntegers(seeds, option: "--seeds")
        guard epochs >= 1, threads >= 1, threads <= 1024 else { throw ValidationError("--epochs and --threads must be at least 1") }
        if let trainLimit, trainLimit < 1 { throw ValidationError("--train-limit must be at least 1, got \(trainLimit)") }
        for name in datasetList {
            try ModelSpec.validateFits(model, inputShape: name.sampleShape, classes: name.classes, batchSize: 128)
        }
    }

    func run() throws {
        Runtime.configure(threads: threads)
        if let markdown { try OutputPath.checkFile(markdown, option: "--markdown") }
        var configuration = FAClassesExperiment.Configuration()
        configuration.classCounts = try CommaList.positiveIntegers(classes, option: "--classes")
        configuration.rules = try CommaList.ruleNames(rules)
        configuration.seeds = try CommaList.positiveIntegers(seeds, option: "--seeds").map(UInt64.init)
        configuration.epochs = epochs
        configuration.model = model
        configuration.trainLimit = trainLimit
        print("fa-classes: \(model), k ∈ {\(classes)}, rules \(rules), seeds \(seeds), \(epochs) epochs, Adam 1e-3 cosine, batch 128")
        var runs: [FAClassesExperiment.Run] = []
        for name in datasetList {
            let splits: DatasetSplits
            do { splits = try name.load(directory: dataDir) } catch let error as DataError { throw CommandError(error.description) }
            do {
                runs += try FAClassesExperiment.run(configuration, dataset: name.rawValue, splits: splits) { run in
                    print(String(format: "  %@ k=%d %-7@ seed %d: train %6.2f%%  test %6.2f%%  gap %+6.2f  (%.0f s)",
                                 run.dataset, run.classes, run.rule as NSString, Int(run.seed), run.trainAccuracy * 100,
                                 run.testAccuracy * 100, run.gap * 100, run.seconds))
                }
            } catch let error as ModelError {
                throw CommandError(error.description)
            }
        }
        let table = FAClassesExperiment.markdown(runs)
        print("\n" + table, terminator: "")
        if let markdown { try table.write(toFile: markdown, atomically: true, encoding: .utf8) }
    }
}
