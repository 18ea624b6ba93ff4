import ArgumentParser
import Foundation
import LocalLearning

/// Reads a training checkpoint (folder or file) and its saved configuration.
struct SavedRun {
    let file: Safetensors.File
    let path: String
    let configuration: RunConfiguration?

    init(_ location: String) throws {
        path = location.hasSuffix(".safetensors") ? location : "\(location)/\(TrainingCheckpoint.fileName)"
        do {
            file = try Safetensors.read(path)
        } catch let error as CheckpointError {
            throw CommandError(error.description)
        }
        configuration = file.metadata["configuration"].flatMap(RunConfiguration.decode)
    }

    /// The model weights, whether the file is a checkpoint (`model.` names) or exported weights.
    var weights: Safetensors.File {
        guard file.metadata["format"] == "locallearn-checkpoint" else { return file }
        var weights = Safetensors.File(metadata: ["model": file.metadata["model"] ?? "", "format": "locallearn"])
        for (name, entry) in file.tensors where name.hasPrefix("model.") { weights.tensors[String(name.dropFirst(6))] = entry }
        return weights
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's model weights as a plain safetensors file (opens in PyTorch, NumPy, safetensors).",
        discussion: "Tensor names are <block>.<layer index>.<parameter> (e.g. fc1.1.weight, conv1.2.running_mean), in PyTorch's layouts; the model spec is in the metadata under \"model\"."
    )

    @Option(help: "Checkpoint folder or .safetensors file.")
    var checkpoint: String

    @Option(help: "Output .safetensors file.")
    var out: String

    func run() throws {
        let saved = try SavedRun(checkpoint)
        guard TrainCommand.absolutePath(URL(fileURLWithPath: out).resolvingSymlinksInPath().path)
                != TrainCommand.absolutePath(URL(fileURLWithPath: saved.path).resolvingSymlinksInPath().path) else {
            throw ValidationError("--out \(out) is the checkpoint being read; writing the weights there would destroy the training state: choose another file")
        }
        try OutputPath.checkFile(out, option: "--out")
        let weights = saved.weights
        do {
            try Safetensors.write(weights, to: out)
        } catch let error as CheckpointError {
            throw CommandError(error.description)
        }
        print("wrote \(out): \(weights.tensors.count) tensors of model \(weights.metadata["model"] ?? "?")")
        for name in weights.tensors.keys.sorted() {
            let entry = weights.tensors[name]!
            let sum = (try? weights.tensor(name))?.scalars.reduce(0.0) { $0 + Double($1) }
            print("  \(name) \(entry.dtype.rawValue) \(entry.shape)" + (sum.map { String(format: "  sum %.6f", $0) } ?? ""))
        }
    }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate saved weights (a checkpoint, or a file written by export) on a dataset's test split."
    )

    @OptionGroup var saved: SavedRunOptions

    @Option(help: "Batch size.")
    var batchSize = 256

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    func run() throws {
        let setup = try saved.setup(batchSize: batchSize)
        let (network, spec, datasetName) = (setup.network, setup.spec, setup.dataset.rawValue)
        let test = setup.standardization.map { $0.apply(to: setup.test) } ?? setup.test
        let result = Evaluation.evaluate(network, on: test, batchSize: batchSize, rule: setup.rule)
        print(String(format: "%@ on %@ (%d test samples): accuracy %.2f%%, loss %.4f", spec, datasetName, test.count,
                     result.accuracy * 100, result.loss))
    }
}
