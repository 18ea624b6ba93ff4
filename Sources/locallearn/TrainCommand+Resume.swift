import ArgumentParser
import Foundation
import LocalLearning

/// Thrown by the training loop after Ctrl-C, once the checkpoint is written.
struct Interrupted: Error {
    let directory: String
    let position: TrainingPosition
}

extension TrainCommand {
    /// Options a resumed run takes from its command line; every other setting is the saved run's.
    static let resumeOptions: Set<String> = ["resume", "config", "epochs", "data-dir", "checkpoint-dir", "checkpoint-every",
                                             "log", "show-model", "overwrite", "keep-best"]

    /// Takes every setting of a saved run (a resumed run must train exactly as the original).
    mutating func adopt(_ c: RunConfiguration) throws {
        func choice<T: RawRepresentable>(_ raw: String, _ option: String) throws -> T where T.RawValue == String {
            guard let value = T(rawValue: raw) else { throw CommandError("the saved --\(option) '\(raw)' is unknown to this version") }
            return value
        }
        (dataset, optimizer) = (try choice(c.dataset, "dataset"), try choice(c.optimizer, "optimizer"))
        initializer = try choice(c.initializer, "initializer") as Initializer
        onNaN = try choice(c.onNan ?? NonFinitePolicy.stop.rawValue, "on-nan")
        (rule, model, dataDir, epochs, batchSize) = (c.rule, c.model, c.dataDir, c.epochs, c.batchSize)
        (lr, momentum, nesterov, weightDecay) = (c.learningRate, c.momentum, c.nesterov, c.weightDecay)
        (schedule, warmupEpochs, seed, threads) = (c.schedule, c.warmupEpochs, c.seed, c.threads)
        (cropPadding, horizontalFlip, trainLimit, standardize) = (c.cropPadding, c.horizontalFlip, c.trainLimit, c.standardize)
        diagnostics = c.diagnostics
        ruleArguments = c.ruleOptions.sorted { $0.key < $1.key }.map { "--\($0.key)=\($0.value)" }
        (stages, stageBoundaries, perUnitStages) = (c.stages ?? 1, c.stageBoundaries, c.perUnitStages ?? false)
        transientGradients = c.transientGradients ?? false
        valSplit = c.valSplit ?? 0
        classes = c.classes
    }

    /// The command that continues the run saved at `path` (`epochsDone` epochs trained): the saved
    /// settings, validated as if typed anew, with `--epochs` (extends the run), `--data-dir` and the
    /// output options of this command line where `given` names them.
    func resumed(from saved: RunConfiguration, epochsDone: Int, path: String, given: Set<String>) throws -> TrainCommand {
        var command = self
        try command.adopt(saved)
        if given.contains("epochs") {
            guard epochs >= epochsDone else {
                throw CommandError("--epochs \(epochs) is fewer than the \(epochsDone) epochs \(path) has trained already")
            }
            command.epochs = epochs
        }
        if given.contains("data-dir") { command.dataDir = dataDir }
        do {
            try command.validate()
        } catch let error as ValidationError {
            throw CommandError("\(path): the saved configuration is invalid: \(error.message)")
        }
        let ignored = given.subtracting(Self.resumeOptions).sorted()
        if !ignored.isEmpty {
            print("note: a resumed run keeps its saved settings; ignored: \(ignored.map { "--" + $0 }.joined(separator: ", "))")
        }
        return command
    }

    /// Before any work: the log and checkpoint folder can be written, and a new run does not
    /// silently replace another run's checkpoint.
    func checkOutputs(resuming: Bool) throws {
        if let log { try OutputPath.checkFile(log, option: "--log") }
        guard let checkpointDir else { return }
        let existing = "\(checkpointDir)/\(TrainingCheckpoint.fileName)"
        if !resuming, !overwrite, FileManager.default.fileExists(atPath: existing) {
            throw CommandError("--checkpoint-dir \(checkpointDir) already holds a run's checkpoint (\(existing)): continue it with "
                               + "--resume \(checkpointDir), or pass --overwrite to replace it")
        }
        try OutputPath.prepareDirectory(checkpointDir, option: "--checkpoint-dir")
    }

    /// `path` made absolute against the current folder (saved so a run resumes from anywhere).
    static func absolutePath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
