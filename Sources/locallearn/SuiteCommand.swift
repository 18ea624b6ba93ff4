import ArgumentParser
import Foundation
import LocalLearning
import LocalLearningTools

/// `locallearn suite FILE`: runs a results suite row by row, each as its own `locallearn train`
/// with a log and a checkpoint folder, so it survives interruption: finished rows (a log with a
/// summary) are kept, an unfinished row resumes from its checkpoint, and the tables are rebuilt
/// from the logs after every row (and with `--report-only` at any time).
struct SuiteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suite",
        abstract: "Run a results suite (a YAML file of rows) that resumes where it stopped; writes results.md, results.csv and report.html.",
        discussion: "Each row trains as `locallearn train` with the suite's options and its own, logging to OUT/ROW.jsonl and saving a checkpoint in OUT/checkpoints/ROW after every epoch (with `seeds: [1, 2, 3]` in the file, once per seed as ROW.seedN, and the tables show mean ± std). Rerunning the suite skips finished rows and resumes the unfinished one from its checkpoint (Ctrl-C is safe). Commit the tables and logs, not OUT/checkpoints."
    )

    @Argument(help: "The suite file (YAML: title, options, rows).")
    var file: String

    @Option(help: "Output folder (default: results/ and the suite file's name).")
    var out: String?

    @Option(help: "Run only these rows, comma-separated (the tables still list every finished row).")
    var only: String?

    @Flag(help: "Rebuild the tables and report from the logs without training.")
    var reportOnly = false

    var folder: String { out ?? "results/" + URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent }

    func suite() throws -> Suite {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("\(file): suite file not found or unreadable") }
        do {
            return try Suite.parse(String(decoding: data, as: UTF8.self), path: file)
        } catch let error as SuiteError {
            throw ValidationError(error.description)
        }
    }

    func validate() throws {
        let suite = try suite()
        if let only {
            for name in only.split(separator: ",").map(String.init) where !suite.rows.contains(where: { $0.name == name }) {
                throw ValidationError("--only: no row is called '\(name)'; the rows are \(suite.rows.map(\.name).joined(separator: ", "))")
            }
        }
        for row in suite.rows {
            do {
                _ = try TrainCommand.parse(suite.arguments(for: row, seed: suite.seeds.first) + ["--log", "\(folder)/\(row.name).jsonl"])
            } catch {
                throw ValidationError("\(file): row \(row.name): \(TrainCommand.message(for: error))")
            }
        }
    }

    func run() throws {
        let suite = try suite()
        try OutputPath.prepareDirectory(folder, option: "--out")
        let chosen = only.map { Set($0.split(separator: ",").map(String.init)) }
        if !reportOnly {
            print("locallearn suite: \(suite.title) → \(folder)/")
            for row in suite.rows where chosen?.contains(row.name) ?? true {
                for run in suite.runs(of: row) {
                    try train(run, of: row, in: suite)
                    try SuiteReport.write(suite: suite, folder: folder, command: "locallearn suite \(file)")
                }
            }
        }
        try SuiteReport.write(suite: suite, folder: folder, command: "locallearn suite \(file)")
        print("wrote \(folder)/results.md, results.csv and report.html")
    }

    /// Trains `run` of `row` unless its log is complete: resumed from its checkpoint when it has one.
    func train(_ run: Suite.Run, of row: Suite.Row, in suite: Suite) throws {
        let name = run.name
        let log = "\(folder)/\(name).jsonl", checkpoints = "\(folder)/checkpoints/\(name)"
        if SuiteReport.isFinished(log: log) {
            print("── \(name): done (\(log))")
            return
        }
        try? FileManager.default.removeItem(atPath: "\(folder)/\(name).error")
        let saved = FileManager.default.fileExists(atPath: "\(checkpoints)/\(TrainingCheckpoint.fileName)")
        let fresh = ["train"] + suite.arguments(for: row, seed: run.seed)
            + ["--log", log, "--checkpoint-dir", checkpoints, "--checkpoint-every", "1", "--overwrite"]
        let arguments = saved ? ["train", "--resume", checkpoints, "--log", log] : fresh
        print("── \(name): " + (saved ? "resuming from \(checkpoints)" : arguments.dropFirst().joined(separator: " ")))
        let ended = try ChildProcess.run(arguments)
        switch ended.status {
        case 0:
            // The row's own command, also when it finished by resuming (which continues it bit for bit).
            try SuiteReport.Provenance.current(command: "locallearn " + fresh.joined(separator: " "))
                .write(to: "\(folder)/\(name).provenance.json")
        case 130:
            print("suite interrupted in row \(name); rerun `locallearn suite \(file)\(out.map { " --out \($0)" } ?? "")` to continue")
            throw ExitCode(130)
        default:
            FileHandle.standardError.write(Data(ended.errors.utf8))
            let message = ended.message
            try message.write(toFile: "\(folder)/\(name).error", atomically: true, encoding: .utf8)
            print("   \(name) failed: \(message)")
        }
    }
}
