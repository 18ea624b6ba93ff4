import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

/// Runs the command-line tool under `mpirun` with 2 ranks on this machine (Open MPI, as CI installs it).
@Suite("MPI: stages as ranks and data-parallel training", .serialized)
struct MPITests {
    static let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs `arguments` (after the executable), under `mpirun -np ranks` when ranks > 0; returns exit status and output.
    static func run(_ arguments: [String], ranks: Int = 0) throws -> (status: Int32, output: String) {
        let executable = try #require(InterruptTests.executable, "the locallearn executable was not built")
        let process = Process()
        if ranks > 0 {
            let mpirun = try #require(Self.mpirun, "mpirun not found: install openmpi-bin")
            process.executableURL = URL(fileURLWithPath: mpirun)
            process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ll-mpi-\(name)-\(UUID().uuidString)").path
    }

    /// The epoch records of a JSONL run log: (train loss, test loss, test accuracy).
    static func epochs(_ path: String) throws -> [[Double]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            guard object["type"] as? String == "epoch" else { return nil }
            return ["train_loss", "test_loss", "test_accuracy"].map { (object[$0] as! NSNumber).doubleValue }
        }
    }

    @Test func twoStagesOnTwoRanksTrainAsOneProcess() throws {
        let common = ["train", "--rule", "lls-m", "--model", "cnn:4,M,8,A2:fc16", "--train-limit", "512", "--epochs", "2", "--threads", "1"]
        let (single, pipelined) = (Self.temporary("seq.jsonl"), Self.temporary("mpi.jsonl"))
        defer { [single, pipelined].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let sequential = try Self.run(common + ["--log", single])
        #expect(sequential.status == 0, "\(sequential.output)")
        let ranks = try Self.run(common + ["--stages", "2", "--log", pipelined], ranks: 2)
        #expect(ranks.status == 0, "\(ranks.output)")
        #expect(ranks.output.contains("pipeline: 2 stages on 2 MPI ranks"), "\(ranks.output)")
        let (a, b) = (try Self.epochs(single), try Self.epochs(pipelined))
        #expect(a.count == 2 && a == b, "sequential \(a) vs 2 ranks \(b)")
    }

    @Test func dataParallelBackpropMatchesTheGlobalBatchAfterOneStep() throws {
        // One step: 256 samples in one batch of 256, plain SGD, no BatchNorm or dropout.
        let common = ["train", "--rule", "bp", "--model", "mlp:784-32-10:tanh", "--train-limit", "256", "--batch-size", "256",
                      "--epochs", "1", "--optimizer", "sgd", "--momentum", "0", "--lr", "0.5", "--threads", "1"]
        let (single, parallel) = (Self.temporary("single"), Self.temporary("parallel"))
        defer { [single, parallel].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let one = try Self.run(common + ["--checkpoint-dir", single])
        #expect(one.status == 0, "\(one.output)")
        let two = try Self.run(common + ["--data-parallel", "--checkpoint-dir", parallel], ranks: 2)
        #expect(two.status == 0, "\(two.output)")
        #expect(two.output.contains("data-parallel over 2 MPI ranks"))
        let a = try Safetensors.read("\(single)/\(TrainingCheckpoint.fileName)")
        let b = try Safetensors.read("\(parallel)/\(TrainingCheckpoint.fileName)")
        let initial = try ModelSpec.build("mlp:784-32-10:tanh", inputShape: [1, 28, 28], classes: 10, seed: 1)
        let weights = ModelWeights.tensors(of: initial)
        #expect(weights.count == 4)
        var largestChange: Float = 0
        for (name, start) in weights.map({ ("model.\($0.name)", $0.tensor) }) {
            let (x, y) = (try a.tensor(name, shape: start.shape, path: "single"), try b.tensor(name, shape: start.shape, path: "parallel"))
            let difference = zip(x.scalars, y.scalars).map { abs($0 - $1) }.max()!
            #expect(difference <= 1e-6, "\(name): ranks differ from one process by \(difference)")
            largestChange = max(largestChange, zip(x.scalars, start.scalars).map { abs($0 - $1) }.max()!)
        }
        // The step did move the weights (so the comparison is not of two untouched models).
        #expect(largestChange > 1e-3)
    }

    @Test func stagesCheckpointPerRankAndResumeExactly() throws {
        // SLL with dropout: rank 0 draws the projection masks, rank 1 owns the classifier's dropout generator.
        let common = ["train", "--rule", "sll", "--model", "cnn:4,M,8,A2:fc16:dropout0.2", "--train-limit", "512", "--threads", "1",
                      "--stages", "2"]
        let (log, saved) = (Self.temporary("straight.jsonl"), Self.temporary("saved"))
        defer { [log, saved].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let straight = try Self.run(common + ["--epochs", "2", "--log", log], ranks: 2)
        #expect(straight.status == 0, "\(straight.output)")
        let first = try Self.run(common + ["--epochs", "1", "--checkpoint-dir", saved], ranks: 2)
        #expect(first.status == 0, "\(first.output)")
        let main = "\(saved)/\(TrainingCheckpoint.fileName)"
        #expect(FileManager.default.fileExists(atPath: "\(saved)/stage-2.safetensors"))
        // Turn the one-epoch run into a two-epoch run saved after its first epoch (constant learning rate).
        var file = try Safetensors.read(main)
        var configuration = try JSONSerialization.jsonObject(with: Data(file.metadata["configuration"]!.utf8)) as! [String: Any]
        #expect(configuration["mpiStageRanks"] as? Int == 2)
        configuration["epochs"] = 2
        file.metadata["configuration"] = String(decoding: try JSONSerialization.data(withJSONObject: configuration), as: UTF8.self)
        try Safetensors.write(file, to: main)
        let alone = try Self.run(["train", "--resume", saved])
        #expect(alone.status != 0 && alone.output.contains("resume it with mpirun -np 2"), "\(alone.output)")
        let resumedLog = "\(saved)/resumed.jsonl"
        let resumed = try Self.run(["train", "--resume", saved, "--log", resumedLog], ranks: 2)
        #expect(resumed.status == 0, "\(resumed.output)")
        let (whole, rest) = (try Self.epochs(log), try Self.epochs(resumedLog))
        // The resumed log holds the whole run: the restored first epoch, then the one trained now.
        #expect(whole.count == 2 && rest == whole, "straight \(whole) vs resumed \(rest)")
        // Without rank 1's file rank 0 alone cannot continue: the resume fails, naming the file.
        try FileManager.default.removeItem(atPath: "\(saved)/stage-2.safetensors")
        let missing = try Self.run(["train", "--resume", saved], ranks: 2)
        #expect(missing.status != 0 && missing.output.contains("stage-2.safetensors"), "\(missing.output)")
    }

    @Test func misuseIsRefusedWithOneLine() throws {
        let alone = try Self.run(["train", "--data-parallel", "--epochs", "1"])
        #expect(alone.status != 0 && alone.output.contains("--data-parallel needs several processes"), "\(alone.output)")
        let bp = try Self.run(["train", "--rule", "bp", "--stages", "2", "--epochs", "1"])
        #expect(bp.status != 0 && bp.output.contains("update locking"), "\(bp.output)")
        let plain = try Self.run(["train", "--epochs", "1", "--train-limit", "256"], ranks: 2)
        #expect(plain.status != 0 && plain.output.contains("pass --data-parallel, or --stages 2"), "\(plain.output)")
    }
}
