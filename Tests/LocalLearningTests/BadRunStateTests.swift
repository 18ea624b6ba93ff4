import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

/// Issue 19's rows about saved runs, data files and output folders: nothing is lost or silently
/// replaced, and a run can be continued from anywhere and extended.
@Suite("Bad input: checkpoints, data and outputs")
struct BadRunStateTests {
    static let tiny = ["--train-limit", "64", "--model", "mlp:784-8-10", "--threads", "1"]

    /// A finished one-epoch run's checkpoint folder inside `folder`.
    func trainedRun(in folder: String, epochs: Int = 1, extra: [String] = []) throws -> String {
        let run = "\(folder)/run"
        let result = try CLI.run(["train", "--epochs", "\(epochs)", "--checkpoint-dir", run] + Self.tiny + extra)
        #expect(result.status == 0, "\(result.errors)")
        return run
    }

    /// Rewrites the saved configuration of the checkpoint in `run` with `edit`.
    func editConfiguration(of run: String, _ edit: (inout [String: Any]) -> Void) throws {
        let path = "\(run)/\(TrainingCheckpoint.fileName)"
        var file = try Safetensors.read(path)
        var object = try JSONSerialization.jsonObject(with: Data(file.metadata["configuration"]!.utf8)) as! [String: Any]
        edit(&object)
        file.metadata["configuration"] = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        try Safetensors.write(file, to: path)
    }

    @Test func aSavedConfigurationIsValidatedAgainOnResume() throws {
        let folder = try CLI.temporaryFolder("saved")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try trainedRun(in: folder)
        for (key, value, text) in [("batchSize", 0 as Any, "--batch-size must be at least 1"), ("epochs", 0, "--epochs must be at least 1"),
                                   ("weightDecay", -1, "--weight-decay must be a number ≥ 0"), ("optimizer", "rmsprop", "saved --optimizer 'rmsprop'")] {
            let copy = "\(folder)/copy-\(key)"
            try FileManager.default.copyItem(atPath: run, toPath: copy)
            try editConfiguration(of: copy) { $0[key] = value }
            let result = try CLI.run(["train", "--resume", copy])
            #expect(result.status == 1 && !result.signalled, "\(key): \(result.errors)")
            #expect(result.errorLine?.contains(text) == true, "\(key): \(result.errors)")
        }
    }

    @Test func exportRefusesToOverwriteItsInputAndExportedWeightsSayTheyCannotBeResumed() throws {
        let folder = try CLI.temporaryFolder("export")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try trainedRun(in: folder)
        let checkpoint = "\(run)/\(TrainingCheckpoint.fileName)"
        for out in [checkpoint, "\(run)/./\(TrainingCheckpoint.fileName)"] {
            let result = try CLI.run(["export", "--checkpoint", run, "--out", out])
            #expect(result.status == 64 && result.errorLine?.contains("is the checkpoint being read") == true, "\(result.errors)")
        }
        #expect(try TrainingCheckpoint.contents(of: Safetensors.read(checkpoint), path: checkpoint).reports.count == 1)
        let weights = "\(folder)/weights.safetensors"
        #expect(try CLI.run(["export", "--checkpoint", run, "--out", weights]).status == 0)
        let resumed = try CLI.run(["train", "--resume", weights])
        #expect(resumed.status == 1 && resumed.errorLine?.contains("holds exported model weights only") == true, "\(resumed.errors)")
    }

    @Test func aNewRunDoesNotReplaceAnotherRunsCheckpointUnlessTold() throws {
        let folder = try CLI.temporaryFolder("overwrite")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try trainedRun(in: folder)
        let again = try CLI.run(["train", "--epochs", "1", "--checkpoint-dir", run] + Self.tiny)
        #expect(again.status == 1 && again.errorLine?.contains("already holds a run's checkpoint") == true, "\(again.errors)")
        #expect(again.errorLine?.contains("--resume \(run)") == true)
        #expect(try CLI.run(["train", "--epochs", "1", "--checkpoint-dir", run, "--overwrite"] + Self.tiny).status == 0)
    }

    @Test func epochsOnResumeExtendTheRunAndDataDirIsSavedAbsolute() throws {
        let folder = try CLI.temporaryFolder("extend")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A tiny MNIST-layout dataset under a relative path.
        let fixtures = try Fixtures()
        defer { fixtures.remove() }
        try fixtures.writeIDX(count: 20, gzip: false)
        try FileManager.default.moveItem(atPath: fixtures.directory, toPath: "\(folder)/data")
        let trained = try CLI.run(["train", "--dataset", "mnist", "--data-dir", "data", "--model", "mlp:6-4-10", "--epochs", "1",
                                   "--checkpoint-dir", "run", "--threads", "1"], in: folder)
        #expect(trained.status == 0, "\(trained.errors)")
        // From another folder: the saved absolute path is found; --epochs 3 trains epochs 2 and 3.
        let log = "\(folder)/resumed.jsonl"
        let extended = try CLI.run(["train", "--resume", "\(folder)/run", "--epochs", "3", "--log", log], in: NSTemporaryDirectory())
        #expect(extended.status == 0, "\(extended.errors)")
        #expect(extended.output.contains("epoch 2 of 3") && extended.output.contains("epoch 3/3"), "\(extended.output)")
        let logText = try String(contentsOfFile: log, encoding: .utf8)
        #expect(logText.contains("\"data_dir\":\"\(folder.replacingOccurrences(of: "/", with: "\\/"))\\/data\""), "\(logText.prefix(600))")
        #expect(logText.contains("\"on_nan\":\"stop\""))
        // Fewer epochs than done is refused; a moved dataset is found again through --data-dir.
        let shorter = try CLI.run(["train", "--resume", "\(folder)/run", "--epochs", "2"])
        #expect(shorter.status == 1 && shorter.errorLine?.contains("fewer than the 3 epochs") == true, "\(shorter.errors)")
        try FileManager.default.moveItem(atPath: "\(folder)/data", toPath: "\(folder)/moved")
        let missing = try CLI.run(["train", "--resume", "\(folder)/run", "--epochs", "4"])
        #expect(missing.status == 1 && missing.errorLine?.contains("data directory not found") == true, "\(missing.errors)")
        let moved = try CLI.run(["train", "--resume", "\(folder)/run", "--epochs", "4", "--data-dir", "\(folder)/moved"])
        #expect(moved.status == 0 && moved.output.contains("epoch 4/4"), "\(moved.errors)")
    }

    @Test func aValidationSplitIsReportedAndKeptOnResume() throws {
        let folder = try CLI.temporaryFolder("val")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try trainedRun(in: folder, extra: ["--val-split", "0.25"])
        let log = "\(folder)/log.jsonl"
        let resumed = try CLI.run(["train", "--resume", run, "--epochs", "2", "--log", log])
        #expect(resumed.status == 0 && resumed.output.contains("48 train / 16 validation / 1000 test"), "\(resumed.output)")
        #expect(resumed.output.contains("val acc") && resumed.output.contains("test accuracy at the best validation epoch ("))
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("\"val_split\":0.25") && text.contains("\"test_accuracy_at_best_validation\":"), "\(text.suffix(400))")
        #expect(text.contains("\"type\":\"confusion\"") && text.contains("\"classes\":10"), "the final test confusion matrix is logged")
    }

    @Test func aClassSubsetTrainsKOutputsAndEvalUsesTheSameSubset() throws {
        let folder = try CLI.temporaryFolder("classes")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try CLI.run(["train", "--classes", "0,3", "--model", "cnn:4,A2", "--epochs", "1", "--train-limit", "600",
                                  "--threads", "1", "--checkpoint-dir", "\(folder)/run"])
        #expect(result.status == 0 && result.output.contains("/ 200 test)"), "\(result.output)\(result.errors)")
        let final = result.output.split(separator: "\n").first { $0.hasPrefix("done:") }.flatMap { $0.split(separator: " ").dropFirst(4).first }
        let eval = try CLI.run(["eval", "--checkpoint", "\(folder)/run"])
        #expect(eval.status == 0 && eval.output.contains("(200 test samples): accuracy \(final ?? "?")"), "\(eval.output) vs \(final ?? "")")
        let refused = try CLI.run(["train", "--classes", "0,3", "--epochs", "1"])
        #expect(refused.status == 1 && refused.errorLine?.contains("output size 10 does not match the data's 2 classes") == true)
    }

    @Test func keepBestSavesTheBestValidationEpochsWeights() throws {
        let folder = try CLI.temporaryFolder("best")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try CLI.run(["train", "--val-split", "0.2", "--keep-best", "--checkpoint-dir", "\(folder)/run", "--epochs", "3",
                               "--train-limit", "400", "--model", "mlp:784-16-10", "--threads", "1"])
        #expect(run.status == 0, "\(run.errors)")
        // "done: test accuracy at the best validation epoch (E, validation V%) T%, …"
        let done = run.output.split(separator: "\n").first { $0.hasPrefix("done:") }.map(String.init) ?? ""
        let atBest = done.split(separator: ")").dropFirst().first?.split(separator: " ").first.map { $0.replacingOccurrences(of: ",", with: "") }
        let eval = try CLI.run(["eval", "--checkpoint", "\(folder)/run/best.safetensors", "--dataset", "fashion-mnist-subset"])
        #expect(eval.status == 0 && eval.output.contains("accuracy \(atBest ?? "?")"), "\(eval.output) vs \(done)")
        let refused = try CLI.run(["train", "--keep-best", "--epochs", "1"])
        #expect(refused.status == 64 && refused.errorLine?.contains("--keep-best") == true)
    }

    @Test func aConfigurationSavedWithTheOldOnNaNKeyStillResumes() throws {
        let folder = try CLI.temporaryFolder("onnan")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try trainedRun(in: folder)
        try editConfiguration(of: run) { $0["onNaN"] = "skip-batch"; $0.removeValue(forKey: "onNan") }
        let log = "\(folder)/log.jsonl"
        let result = try CLI.run(["train", "--resume", run, "--epochs", "2", "--log", log])
        #expect(result.status == 0, "\(result.errors)")
        #expect(try String(contentsOfFile: log, encoding: .utf8).contains("\"on_nan\":\"skip-batch\""))
    }

    @Test func aConfigurationSavedBeforeRulesDeclaredTheirOptionsResumesWithItsValues() throws {
        let folder = try CLI.temporaryFolder("legacy")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try trainedRun(in: folder, extra: ["--rule", "sll", "--sll-codes", "16", "--sll-lambda", "3"])
        // The layout of 2026-11: flat rule fields and nested rec-LRA and SLL configurations, no ruleOptions.
        try editConfiguration(of: run) {
            $0.removeValue(forKey: "ruleOptions")
            $0["sll"] = ["codes": 16, "dropout": 0.1, "lambda": 3, "unitSize": 1, "releaseActivations": true]
            $0["recLRA"] = ["beta": 0.1, "gamma": 0.1, "errorSynapses": "track-forward", "wiring": "chain", "errorInitScale": 0.1]
            ($0["feedbackInit"], $0["constrainWeights"], $0["basis"], $0["temperature"], $0["localUnit"]) = ("xavier", false, "square", 0.5, 1)
        }
        let log = "\(folder)/log.jsonl"
        let result = try CLI.run(["train", "--resume", run, "--epochs", "2", "--log", log])
        #expect(result.status == 0, "\(result.errors)")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("\"sll-codes\":\"16\"") && text.contains("\"sll-lambda\":\"3.0\""), "\(text.prefix(600))")
        #expect(!text.contains("\"basis\""), "options of other rules are dropped")
    }

    /// Trains one epoch of `rule`, edits its saved configuration as a run saved before some options
    /// existed, resumes it for a second epoch and returns the resumed run's log.
    func resumedLogOfAnOlderConfiguration(rule: String, tag: String, _ edit: (inout [String: Any]) -> Void) throws -> String {
        let folder = try CLI.temporaryFolder(tag)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try trainedRun(in: folder, extra: ["--rule", rule])
        try editConfiguration(of: run, edit)
        let log = "\(folder)/log.jsonl"
        let result = try CLI.run(["train", "--resume", run, "--epochs", "2", "--log", log])
        #expect(result.status == 0, "\(result.errors)")
        return try String(contentsOfFile: log, encoding: .utf8)
    }

    /// `resumedLogOfAnOlderConfiguration` with an edit of the saved rule options only.
    func resumedLogOfAnOlderRun(rule: String, tag: String, _ edit: (inout [String: String]) -> Void) throws -> String {
        try resumedLogOfAnOlderConfiguration(rule: rule, tag: tag) { configuration in
            var options = configuration["ruleOptions"] as! [String: String]
            edit(&options)
            configuration["ruleOptions"] = options
        }
    }

    @Test func aForwardForwardRunSavedBeforeTheReferenceDefaultsResumesWithThePaperTextSetting() throws {
        let text = try resumedLogOfAnOlderRun(rule: "ff", tag: "ff-legacy") { options in
            for key in ["ff-goodness", "ff-normalisation", "ff-activation-gradient", "ff-peer-normalisation"] { options.removeValue(forKey: key) }
            options["ff-threshold"] = "2.0"
        }
        #expect(text.contains("\"ff-goodness\":\"mean\"") && text.contains("\"ff-normalisation\":\"length\"")
                && text.contains("\"ff-activation-gradient\":\"exact\""), "\(text.prefix(800))")
    }

    @Test func anSLLRunSavedBeforeAfterPoolingBecameTheDefaultResumesReadingBeforePooling() throws {
        let text = try resumedLogOfAnOlderRun(rule: "sll", tag: "sll-tap-legacy") { options in
            #expect(options["sll-tap"] == "after-pooling", "the default")
            options.removeValue(forKey: "sll-tap")
        }
        #expect(text.contains("\"sll-tap\":\"before-pooling\""), "\(text.prefix(800))")
    }

    @Test func aDFARunSavedBeforeItsInjectionOptionResumesInjectingAfterPooling() throws {
        // The flat layout of 2026-11, which had no injection option.
        let text = try resumedLogOfAnOlderConfiguration(rule: "dfa", tag: "dfa-legacy") { configuration in
            configuration.removeValue(forKey: "ruleOptions")
            (configuration["feedbackInit"], configuration["constrainWeights"]) = ("xavier", false)
        }
        #expect(text.contains("\"dfa-injection\":\"after-pooling\""), "\(text.prefix(800))")
    }

    @Test func anEmptySplitIsRefused() throws {
        let fixtures = try Fixtures()
        defer { fixtures.remove() }
        try fixtures.writeIDX(count: 0, gzip: false)
        #expect(throws: DataError.empty(path: "\(fixtures.directory)/train-images-idx3-ubyte", split: "training")) {
            try DatasetName.mnist.load(directory: fixtures.directory)
        }
        let result = try CLI.run(["train", "--dataset", "mnist", "--data-dir", fixtures.directory, "--model", "mlp:6-4-10"])
        #expect(result.status == 1 && result.errorLine?.contains("holds no samples") == true, "\(result.errors)")
        #expect(Dataset(name: "x", images: Tensor(shape: [2, 1, 1, 1]), labels: [0, 1], classes: 2).prefix(-5).count == 0)
    }

    @Test func multiMemberGzipFilesReadWhole() throws {
        let fixtures = try Fixtures()
        defer { fixtures.remove() }
        try fixtures.writeIDX(count: 7, gzip: false)
        for stem in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(fixtures.directory)/\(stem)")))
            let half = bytes.count / 2
            // Two members, as `cat a.gz b.gz` makes.
            try fixtures.write(stem + ".gz", try FileBytes.gzip(Array(bytes[..<half])) + FileBytes.gzip(Array(bytes[half...])))
            try FileManager.default.removeItem(atPath: "\(fixtures.directory)/\(stem)")
        }
        let splits = try DatasetName.mnist.load(directory: fixtures.directory)
        #expect(splits.train.count == 7 && splits.train.labels == (0..<7).map { Int32($0) })
    }

    @Test func unreadableFilesSayWhy() throws {
        #expect(DataError.reason(errno: EACCES) == "permission denied")
        let fixtures = try Fixtures()
        defer { fixtures.remove() }
        try FileManager.default.createDirectory(atPath: "\(fixtures.directory)/folder", withIntermediateDirectories: true)
        #expect(throws: DataError.unreadable(path: "\(fixtures.directory)/folder", reason: "a folder, not a file")) {
            try FileBytes.read("\(fixtures.directory)/folder")
        }
    }

    /// As another user (setpriv from util-linux, when the tests run as root, as CI does): a data folder
    /// or file without read permission is named with "permission denied", not "file not found".
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func unreadableDataSaysPermissionDenied() throws {
        let folder = try CLI.temporaryFolder("perm")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fixtures = try Fixtures()
        try fixtures.writeIDX(count: 4, gzip: false)
        let data = "\(folder)/data"
        try FileManager.default.moveItem(atPath: fixtures.directory, toPath: data)
        // A copy of the executable that the other user can run, wherever the build folder lies.
        let executable = "\(folder)/locallearn"
        try FileManager.default.copyItem(atPath: CLI.executable!, toPath: executable)
        chmod(folder, 0o755)
        func runAsNobody() throws -> CLI.Result {
            let process = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", executable, "train", "--dataset", "mnist",
                           "--data-dir", data, "--model", "mlp:6-4-10"]
            let path = "\(folder)/run.sh"
            try ("#!/bin/sh\nexec " + process.joined(separator: " ") + " 2>&1\n").write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            let task = Process()
            task.executableURL = URL(fileURLWithPath: path)
            let pipe = Pipe()
            task.standardOutput = pipe
            try task.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            task.waitUntilExit()
            return CLI.Result(status: task.terminationStatus, signalled: false, timedOut: false, output: "", errors: text)
        }
        chmod(data, 0o000)
        let folderDenied = try runAsNobody()
        #expect(folderDenied.status == 1 && folderDenied.errorLine == "\(data): cannot be read (permission denied)", "\(folderDenied.errors)")
        chmod(data, 0o755)
        chmod("\(data)/train-images-idx3-ubyte", 0o000)
        let fileDenied = try runAsNobody()
        #expect(fileDenied.errorLine == "\(data)/train-images-idx3-ubyte: cannot be read (permission denied)", "\(fileDenied.errors)")
    }

    @Test func compareExitsNonZeroAndShowsTheChildsOwnError() throws {
        let folder = try CLI.temporaryFolder("compare")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try CLI.run(["compare", "--rules", "bp", "--set", "bp.lr=1e30", "--set", "bp.optimizer=sgd", "--epochs", "1",
                                  "--model", "mlp:784-16-10:relu", "--threads", "1", "--out", folder], timeout: 120)
        // The child's own error line comes first (passed through), then compare's summary.
        #expect(result.status == 1 && result.errors.contains("Error: 1 of 1 runs failed (bp)"), "\(result.errors)")
        let table = try String(contentsOfFile: "\(folder)/results.md", encoding: .utf8)
        #expect(table.contains("rule bp: the loss became"), "\(table)")
    }
}
