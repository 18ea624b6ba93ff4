import Foundation
import LocalLearning

/// A suite's tables, rebuilt from whatever its folder holds: each finished row's log, each failed
/// row's error, each row's provenance (commit, machine, date, exact command).
public enum SuiteReport {
    /// Where and how a row was trained.
    public struct Provenance: Codable, Sendable {
        public var commit: String
        public var machine: String
        public var date: String
        public var command: String

        /// This process's commit (`LOCALLEARN_COMMIT` when set — the commit a copied binary was built
        /// from —, else `git rev-parse` in the current folder), machine and time.
        public static func current(command: String) -> Provenance {
            let git = Process()
            git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            git.arguments = ["git", "rev-parse", "--short", "HEAD"]
            let output = Pipe()
            git.standardOutput = output
            git.standardError = FileHandle.nullDevice
            var commit = ProcessInfo.processInfo.environment["LOCALLEARN_COMMIT"] ?? "unknown"
            if commit == "unknown", (try? git.run()) != nil {
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                git.waitUntilExit()
                if git.terminationStatus == 0 { commit = text.trimmingCharacters(in: .whitespacesAndNewlines) }
            }
            let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
                .first { $0.hasPrefix("model name") }?.split(separator: ":", maxSplits: 1).last
                .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let formatter = ISO8601DateFormatter()
            return Provenance(commit: commit, machine: "\(cpu), \(cores) cores", date: formatter.string(from: Date()), command: command)
        }

        public func write(to path: String) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(self).write(to: URL(fileURLWithPath: path))
        }
    }

    /// Whether the log at `path` ends its run (holds the summary record).
    public static func isFinished(log path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
        return text.split(separator: "\n").contains { $0.contains("\"type\":\"summary\"") }
    }

    /// The optimizer settings a run logged in its configuration record.
    static func recipe(log path: String) -> RuleRecipe? {
        guard let first = (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n").first,
              let object = try? JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any],
              let optimizer = (object["optimizer"] as? String).flatMap(OptimizerKind.init(rawValue:)),
              let lr = object["learning_rate"] as? Double else { return nil }
        return RuleRecipe(optimizer: optimizer, learningRate: Float(lr), momentum: Float(object["momentum"] as? Double ?? 0.9),
                          weightDecay: Float(object["weight_decay"] as? Double ?? 0))
    }

    /// One run's result: its row from the log, a failed or refused row from its error, or nil when not run yet.
    static func result(of run: Suite.Run, rule: String, folder: String) -> ComparisonRow? {
        let log = "\(folder)/\(run.name).jsonl"
        if isFinished(log: log) {
            do {
                return try RunLogReader.row(rule: rule, recipe: recipe(log: log) ?? .reference, path: log)
            } catch let error as RecipeError {
                return ComparisonRow(rule: rule, status: .failed(message: error.description))
            } catch {
                return ComparisonRow(rule: rule, status: .failed(message: "\(log): \(error)"))
            }
        }
        guard let message = try? String(contentsOfFile: "\(folder)/\(run.name).error", encoding: .utf8) else { return nil }
        return ComparisonRow(rule: rule, status: message.contains("cannot train") ? .notApplicable(reason: message) : .failed(message: message))
    }

    /// The rows with results (finished, failed or refused; a row over seeds once every seed has one,
    /// as mean ± standard deviation), and the names of those not run yet.
    public static func rows(suite: Suite, folder: String) throws -> (rows: [ComparisonRow], pending: [String]) {
        var rows: [ComparisonRow] = [], pending: [String] = []
        for row in suite.rows {
            let runs = suite.runs(of: row)
            let results = runs.map { result(of: $0, rule: row.name, folder: folder) }
            let done = results.compactMap { $0 }
            if done.count < runs.count {
                pending.append(runs.count == 1 ? row.name : "\(row.name) (\(done.count) of \(runs.count) seeds)")
            } else if suite.seeds.isEmpty {
                rows.append(done[0])
            } else {
                rows.append(ComparisonRow.combining(done, seeds: suite.seeds))
            }
        }
        return (rows, pending)
    }

    /// Writes results.md, results.csv and report.html into `folder`.
    public static func write(suite: Suite, folder: String, command: String) throws {
        let (rows, pending) = try rows(suite: suite, folder: folder)
        var markdown = "# \(suite.title)\n\n" + (suite.notes.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n" } ?? "")
        markdown += "Command: `\(command)` — each row's exact command, commit, machine and date are listed below.\n\n"
        markdown += ComparisonTable.markdown(rows) + ComparisonTable.unitsMarkdown(rows)
        let withPaper = suite.rows.filter { $0.paper != nil }
        if !withPaper.isEmpty {
            markdown += "\nPapers' figures beside ours (test accuracy at the best validation epoch where there is one, else the best):\n\n"
            markdown += "| row | this suite | paper |\n|---|---:|---|\n"
            for row in withPaper {
                let ours = rows.first { $0.rule == row.name }.flatMap { $0.testAccuracyAtBestValidation ?? $0.bestTestAccuracy }
                markdown += "| \(row.name) | \(ours.map { String(format: "%.2f%%", $0 * 100) } ?? "–") | \(row.paper!) |\n"
            }
        }
        let decoder = JSONDecoder()
        let provenance = suite.rows.flatMap { suite.runs(of: $0) }.compactMap { run in
            (try? Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(run.name).provenance.json")))
                .flatMap { try? decoder.decode(Provenance.self, from: $0) }.map { (run.name, $0) }
        }
        if !provenance.isEmpty {
            markdown += "\n| run | commit | machine | finished | command |\n|---|---|---|---|---|\n"
            for (name, p) in provenance { markdown += "| \(name) | \(p.commit) | \(p.machine) | \(p.date) | `\(p.command)` |\n" }
        }
        if !pending.isEmpty { markdown += "\nNot run yet: \(pending.joined(separator: ", ")).\n" }
        try markdown.write(toFile: "\(folder)/results.md", atomically: true, encoding: .utf8)
        try ComparisonTable.csv(rows).write(toFile: "\(folder)/results.csv", atomically: true, encoding: .utf8)
        try HTMLReport.render(title: suite.title, subtitle: suite.notes ?? "", rows: rows)
            .write(toFile: "\(folder)/report.html", atomically: true, encoding: .utf8)
    }
}
