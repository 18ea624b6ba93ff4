import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Results suites resume where they stopped")
struct SuiteTests {
    static let file = """
        title: two tiny rows
        options: {model: "mlp:784-64-10", epochs: 6, threads: 1, val-split: 0.1}
        rows:
          - rule: bp
            paper: "none"
          - name: sll-wide
            rule: sll
            sll-codes: 32
        """

    @Test func rowsAreTrainCommandsWithTheRowsOwnOptionsOnTop() throws {
        let suite = try Suite.parse(Self.file, path: "s.yaml")
        #expect(suite.rows.map(\.name) == ["bp", "sll-wide"])
        #expect(suite.arguments(for: suite.rows[1]) == ["--epochs=6", "--model=mlp:784-64-10", "--rule=sll", "--sll-codes=32", "--threads=1", "--val-split=0.1"])
        for bad in ["title: x\nrows: []", "rows:\n  - rule: bp", "title: x\nrows:\n  - rule: bp\n  - rule: bp", "title: x\nfoo: 1\nrows:\n  - rule: bp",
                    "title: x\nrows:\n  - rule: [bp]"] {
            #expect(throws: SuiteError.self, "\(bad)") { try Suite.parse(bad, path: "s.yaml") }
        }
    }

    @Test func seedsMakeOneRunPerSeedWithItsOwnSeed() throws {
        let suite = try Suite.parse(Self.file.replacingOccurrences(of: "rows:", with: "seeds: [3, 1]\nrows:"), path: "s.yaml")
        #expect(suite.seeds == [3, 1])
        #expect(suite.runs(of: suite.rows[1]) == [Suite.Run(name: "sll-wide.seed3", seed: 3), Suite.Run(name: "sll-wide.seed1", seed: 1)])
        #expect(suite.arguments(for: suite.rows[0], seed: 3).contains("--seed=3"))
        for bad in ["seeds: []", "seeds: [1, 1]", "seeds: [-1]", "seeds: 2", "seeds: [a]"] {
            #expect(throws: SuiteError.self, "\(bad)") { try Suite.parse("title: x\n\(bad)\nrows:\n  - rule: bp", path: "s.yaml") }
        }
    }

    /// Two seeds of a tiny row: the table shows mean ± std over the seeds' own runs, a row with a
    /// seed still to run is listed as pending, and the runs' logs are the seeds' own.
    @Test func aSuiteOverSeedsReportsMeanAndSpread() throws {
        let folder = try CLI.temporaryFolder("suite-seeds")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let text = """
            title: seeds
            seeds: [1, 2]
            options: {model: "mlp:784-16-10", epochs: 2, threads: 1, val-split: 0.1, train-limit: 512}
            rows:
              - rule: bp
              - rule: fa
            """
        try text.write(toFile: "\(folder)/s.yaml", atomically: true, encoding: .utf8)
        let first = try CLI.run(["suite", "s.yaml", "--out", "out", "--only", "bp"], in: folder, timeout: 300)
        #expect(first.status == 0, "\(first.errors)")
        var markdown = try String(contentsOfFile: "\(folder)/out/results.md", encoding: .utf8)
        #expect(markdown.contains("Not run yet: fa (0 of 2 seeds)"), "\(markdown)")
        let suite = try Suite.parse(text, path: "s.yaml")
        let runs = try suite.runs(of: suite.rows[0]).map { try RunLogReader.row(rule: "bp", recipe: .reference, path: "\(folder)/out/\($0.name).jsonl") }
        #expect(runs.count == 2 && runs[0].finalTestAccuracy != runs[1].finalTestAccuracy, "the seeds train differently")
        let expected = ComparisonRow.spread(runs.compactMap(\.testAccuracyAtBestValidation))
        #expect(markdown.contains(expected), "\(expected) in \(markdown)")
        #expect(markdown.contains("| bp.seed1 |") && markdown.contains("| bp.seed2 |"))
        let rest = try CLI.run(["suite", "s.yaml", "--out", "out"], in: folder, timeout: 300)
        #expect(rest.status == 0 && rest.output.contains("── bp.seed2: done"), "\(rest.output)")
        markdown = try String(contentsOfFile: "\(folder)/out/results.md", encoding: .utf8)
        #expect(!markdown.contains("Not run yet"))
    }

    /// The accuracy columns of results.csv (times and memory differ from run to run).
    static func accuracies(_ folder: String) throws -> [String] {
        try String(contentsOfFile: "\(folder)/results.csv", encoding: .utf8).split(separator: "\n").map { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return [0, 4, 5, 6, 7, 18, 19].map { fields[$0] }.joined(separator: ",")
        }
    }

    @Test func interruptedBetweenAndWithinRowsGivesTheSameTable() throws {
        guard let executable = CLI.executable else { throw CLI.CLIMissing() }
        let folder = try CLI.temporaryFolder("suite")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.file.write(toFile: "\(folder)/s.yaml", atomically: true, encoding: .utf8)
        let straight = try CLI.run(["suite", "s.yaml", "--out", "straight"], in: folder, timeout: 300)
        #expect(straight.status == 0, "\(straight.errors)")

        // Between rows: the first row alone, then the whole suite keeps it as it is.
        let first = try CLI.run(["suite", "s.yaml", "--out", "parts", "--only", "bp"], in: folder, timeout: 300)
        #expect(first.status == 0, "\(first.errors)")
        let bpLog = try String(contentsOfFile: "\(folder)/parts/bp.jsonl", encoding: .utf8)

        // Within a row: `kill` (SIGTERM, handled as Ctrl-C is) to the suite alone during sll-wide's epoch 3 — the child
        // runs in a process group of its own, so it stops only if the suite hands the signal on (else it trains on, orphaned).
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["suite", "s.yaml", "--out", "parts"]
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let outputPath = "\(folder)/interrupted.out"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        var text = ""
        while !text.contains("epoch 2/6") && process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        try output.close()
        text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 130, "\(text)")
        #expect(text.contains("suite interrupted in row sll-wide"), "\(text)")
        #expect(FileManager.default.fileExists(atPath: "\(folder)/parts/checkpoints/sll-wide/\(TrainingCheckpoint.fileName)"))
        #expect(!SuiteReport.isFinished(log: "\(folder)/parts/sll-wide.jsonl"))

        let rest = try CLI.run(["suite", "s.yaml", "--out", "parts"], in: folder, timeout: 300)
        #expect(rest.status == 0, "\(rest.errors)")
        #expect(rest.output.contains("── bp: done") && rest.output.contains("resuming from"), "\(rest.output)")
        #expect(try String(contentsOfFile: "\(folder)/parts/bp.jsonl", encoding: .utf8) == bpLog)
        #expect(try Self.accuracies("\(folder)/parts") == Self.accuracies("\(folder)/straight"))
        let markdown = try String(contentsOfFile: "\(folder)/parts/results.md", encoding: .utf8)
        #expect(markdown.contains("| sll-wide |") && markdown.contains("| bp |") && !markdown.contains("Not run yet"))
    }
}
