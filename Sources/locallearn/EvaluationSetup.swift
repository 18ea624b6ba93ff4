import ArgumentParser
import Foundation
import LocalLearning

/// What `eval` and `robustness` rebuild from a saved run: its network with the saved weights, its
/// test split in pixels (restricted to the run's classes) and the standardisation it trained with.
struct EvaluationSetup {
    let network: Model
    let spec: String
    let dataset: DatasetName
    /// Pixels in [0, 1], not standardised.
    let test: Dataset
    /// The run's standardisation, measured as it was: on its training samples after --train-limit,
    /// --classes and the --val-split hold-out.
    let standardization: Standardization?
    /// The rule the run trained with, when the file says (a rule may predict its own way); nil for exported weights.
    let rule: LearningRule?
}

/// The options `eval` and `robustness` share: which saved run, and where its data and model come from.
struct SavedRunOptions: ParsableArguments {
    @Option(help: "Checkpoint folder, checkpoint file or exported weights file.")
    var checkpoint: String

    @Option(help: "Dataset (default: the checkpoint's).")
    var dataset: DatasetName?

    @Option(help: "Folder holding the dataset's files (default: the checkpoint's).")
    var dataDir: String?

    @Option(help: "Model spec (default: the one saved in the file).")
    var model: String?

    func setup(batchSize: Int) throws -> EvaluationSetup {
        try SavedRun(checkpoint).evaluationSetup(dataset: dataset, dataDir: dataDir, model: model, batchSize: batchSize)
    }
}

extension SavedRun {
    func evaluationSetup(dataset: DatasetName?, dataDir: String?, model: String?, batchSize: Int) throws -> EvaluationSetup {
        let configuration = self.configuration
        guard let spec = model ?? configuration?.model ?? weights.metadata["model"], !spec.isEmpty else {
            throw CommandError("\(path) does not say which model it holds; give --model")
        }
        let datasetName = dataset?.rawValue ?? configuration?.dataset ?? DatasetName.embedded.rawValue
        guard let name = DatasetName(rawValue: datasetName) else { throw CommandError("\(path): unknown saved dataset '\(datasetName)'") }
        // The run's data as it trained on it (limit, classes, validation hold-out), in pixels; its
        // standardisation measured on the same training samples.
        let data: RunData
        do {
            let options = RunData.Options(trainLimit: configuration?.trainLimit, classes: configuration?.classes.flatMap(ClassSelection.init(parsing:)),
                                          validationFraction: configuration?.valSplit ?? 0, seed: configuration?.seed ?? 1)
            data = try RunData(name.load(directory: dataDir ?? configuration?.dataDir), options: options)
        } catch let error as DataError {
            throw CommandError(error.description)
        } catch let error as RunSetupError {
            throw CommandError("\(path) was trained on data \(datasetName) cannot give: \(error.description)")
        }
        let test = data.test
        let standardization = configuration?.standardize == true ? Standardization(measuring: data.train) : nil
        let network: Model
        do {
            try ModelSpec.footprint(spec, inputShape: test.sampleShape, classes: test.classes).check(spec, batchSize: batchSize)
            network = try ModelSpec.build(spec, inputShape: test.sampleShape, classes: test.classes)
            try ModelWeights.load(weights, into: network, path: path)
        } catch let error as ModelError {
            throw CommandError(error.description)
        } catch let error as CheckpointError {
            throw CommandError(error.description)
        }
        let rule = configuration.flatMap { try? RuleRegistry.descriptor(named: $0.rule)?.make(seed: $0.seed, options: $0.ruleOptions) }
        return EvaluationSetup(network: network, spec: spec, dataset: name, test: test, standardization: standardization, rule: rule)
    }
}
