import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

/// Draws argument vectors from the tool's real option table (`--experimental-dump-help`): valid
/// names with hostile values — negative, zero, NaN, infinite, huge, empty, wrong type, paths that do
/// not exist or cannot be written, bad specs, configs and checkpoints — and runs each. No run may
/// die of a signal or hang; every failure must be an `Error:` line with exit 1 or 64.
///
/// `LOCALLEARN_FUZZ_RUNS=N` sets the number of vectors (default 1000, under a minute on 2 cores);
/// `LOCALLEARN_FUZZ_SEED` the seed.
@Suite("CLI fuzz: no argument vector traps or hangs")
struct CLIFuzzTests {
    struct Option: Sendable {
        var name: String
        var isFlag: Bool
        var values: [String]?
    }

    /// Every subcommand's options by their long names, read from the executable itself.
    static func optionTable() throws -> [String: [Option]] {
        let dump = try CLI.run(["--experimental-dump-help"])
        let root = try JSONSerialization.jsonObject(with: Data(dump.output.utf8)) as! [String: Any]
        var table: [String: [Option]] = [:]
        func walk(_ command: [String: Any], path: [String]) {
            let options = (command["arguments"] as? [[String: Any]] ?? []).compactMap { argument -> Option? in
                let names = (argument["names"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "long" }
                guard let name = names.first?["name"] as? String, name != "help", name != "version" else { return nil }
                return Option(name: name, isFlag: argument["kind"] as? String == "flag", values: argument["allValues"] as? [String])
            }
            if !path.isEmpty { table[path.joined(separator: " ")] = options }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                walk(sub, path: path + [sub["commandName"] as! String])
            }
        }
        walk(root["command"] as! [String: Any], path: [])
        // The rules' own options, which train reads from its remaining arguments.
        var seen = Set<String>()
        for option in RuleRegistry.all.flatMap(\.options) where seen.insert(option.name).inserted {
            table["train", default: []].append(Option(name: option.name, isFlag: option.kind == .flag,
                                                      values: option.choices.isEmpty ? nil : option.choices))
        }
        table.removeValue(forKey: "help")
        table.removeValue(forKey: "experiment")
        return table
    }

    /// Files the vectors point at: a checkpoint, exported weights, configurations, a tiny dataset.
    struct Files {
        let folder: String
        let checkpoint: String, weights: String, goodConfig: String, badConfig: String, text: String, data: String

        init() throws {
            folder = try CLI.temporaryFolder("fuzz")
            checkpoint = "\(folder)/run"
            let trained = try CLI.run(["train", "--epochs", "1", "--train-limit", "64", "--model", "mlp:784-8-10", "--threads", "1",
                                       "--checkpoint-dir", checkpoint])
            precondition(trained.status == 0, trained.errors)
            weights = "\(folder)/weights.safetensors"
            _ = try CLI.run(["export", "--checkpoint", checkpoint, "--out", weights])
            goodConfig = "\(folder)/good.yaml"
            try "epochs: 1\nmodel: mlp:784-8-10\ntrain-limit: 64\n".write(toFile: goodConfig, atomically: true, encoding: .utf8)
            badConfig = "\(folder)/bad.yaml"
            try "epochs: -3\nlr: [1, 2]\nweight-decay: -1\n".write(toFile: badConfig, atomically: true, encoding: .utf8)
            text = "\(folder)/text.txt"
            try "not a checkpoint".write(toFile: text, atomically: true, encoding: .utf8)
            let fixtures = try Fixtures()
            try fixtures.writeIDX(count: 30, gzip: true)
            data = "\(folder)/data"
            try FileManager.default.moveItem(atPath: fixtures.directory, toPath: data)
        }
    }

    /// What each run starts from: small enough to finish in a moment when nothing is refused.
    static func baseline(_ command: String, files: Files, unique: String) -> [String] {
        switch command {
        case "train": ["--epochs", "1", "--train-limit", "64", "--model", "mlp:784-8-10", "--threads", "1"]
        case "compare": ["--rules", "bp", "--epochs", "1", "--model", "mlp:784-8-10", "--threads", "1", "--out", "\(files.folder)/cmp-\(unique)"]
        case "eval": ["--checkpoint", files.checkpoint]
        case "export": ["--checkpoint", files.checkpoint, "--out", "\(files.folder)/export-\(unique).safetensors"]
        case "bench": ["--only", "layers", "--model", "mlp:784-8-10", "--threads", "1"]
        case "costs": ["--model", "mlp:784-8-10", "--input", "784", "--rules", "bp", "--steps", "1", "--batch-size", "8", "--threads", "1"]
        case "experiment memory-depth": ["--depths", "1", "--width", "8", "--input", "16", "--batch-size", "4", "--rules", "bp", "--threads", "1"]
        case "robustness": ["--checkpoint", files.checkpoint, "--limit", "16", "--steps", "2", "--threads", "1"]
        case "experiment fa-classes": ["--data-dir", files.data, "--datasets", "fashion-mnist", "--classes", "2", "--rules", "bp",
                                       "--epochs", "1", "--model", "mlp:6-4-2", "--threads", "1"]
        case "experiment fa-conservation": ["--data-dir", files.data, "--epochs", "2", "--samples", "20", "--widths", "4", "--rules", "bp", "--threads", "1"]
        default: []
        }
    }

    /// Options whose large values mean long work (not a fault): drawn only from small or invalid values.
    static let budget: Set<String> = ["epochs", "train-limit", "steps", "samples", "depths", "widths", "width", "repeats",
                                      "checkpoint-every", "decay-every", "only", "rules", "sll-codes", "stages", "threads",
                                      "limit", "seeds", "datasets"]
    static let small = ["-1", "0", "1", "2", "3", "", "nan", "abc", "1.5", "-0", "2,1", "bp", "bp,fa", "foo", "layers"]
    static let hostile = ["-1", "0", "1", "2", "0.5", "-0.5", "nan", "inf", "-inf", "1e30", "1e-30", "9223372036854775807",
                          "99999999999999999999", "", " ", "abc", "2,4", "bp,fa", "x,y,", "--", "=", "/dev/null/x", "/proc/x"]
    static let specs = ["mlp:784-8-10", "mlp:784-8-10:relu", "mlp:784-8x2-10:tanh:res", "cnn:4,M:fc8", "cnn:4,A2:nobn", "smallconv:tanh",
                        "mlp:784-100000000-10", "cnn:100000000", "mlp:784-8x99999999999999999999-10", "mlp:", "mlp:784", "mlp:784-0-10",
                        "mlp:784--10", "cnn:", "cnn:M", "cnn:A0", "resnet:0", "resnet:-1", "resnet:1:x", "mlp:784-8-10:leakyrelu-5",
                        "mlp:784-8-10:dropout1", "mlp:784-8-10:dropoutnan", "vgg", "", ":", "mlp:784-8-10:pconv"]

    static func values(for option: Option, command: String, files: Files, unique: String) -> [String] {
        let name = option.name
        // compare trains on all 6,000 embedded images: a SmallConv epoch there is minutes in a debug build, not a hang.
        if name == "model" { return command == "compare" ? specs.filter { !$0.hasPrefix("smallconv") } : specs }
        if name == "config" { return [files.goodConfig, files.badConfig, files.text, files.folder, "/nonexistent.yaml", ""] }
        if name == "resume" || name == "checkpoint" {
            return [files.checkpoint, "\(files.checkpoint)/checkpoint.safetensors", files.weights, files.text, files.folder, "/dev/null/x", ""]
        }
        if name == "data-dir" { return [files.data, files.folder, files.text, "/dev/null/x", ""] }
        if name.contains("dir") || ["log", "out", "json", "markdown"].contains(name) {
            let fresh = "\(files.folder)/\(name)-\(unique)"
            return [fresh, fresh, files.folder, files.text, "\(files.text)/x", "/dev/null/x", "/proc/x", "", files.checkpoint]
        }
        if name == "rule" { return RuleRegistry.names + RuleRegistry.names + hostile }
        if name == "set" { return ["bp.lr=0", "bp.lr=nan", "all.optimizer=foo", "bp.momentum=2", "x", "bp.weight-decay=-1", "all.lr=1e-3", "sll.sll-codes=-1", "bp.sll-codes=3", "lls.basis=foo"] }
        if budget.contains(name) { return small }
        return (option.values ?? []) + hostile
    }

    @Test func randomArgumentVectorsNeverTrapOrHang() throws {
        let table = try Self.optionTable()
        #expect(table["train"]?.count ?? 0 > 50, "the option table was not read: \(table.keys)")
        let files = try Files()
        defer { try? FileManager.default.removeItem(atPath: files.folder) }
        let environment = ProcessInfo.processInfo.environment
        let runs = environment["LOCALLEARN_FUZZ_RUNS"].flatMap(Int.init) ?? 1000
        var rng = SeededGenerator(seed: environment["LOCALLEARN_FUZZ_SEED"].flatMap(UInt64.init) ?? 19)
        // Every (command, option) pair equally likely, so commands with many options get as many draws.
        let pairs = table.keys.sorted().flatMap { command in table[command]!.map { (command, $0) } }
        var vectors: [[String]] = []
        for index in 0..<runs {
            let (command, first) = pairs[Int.random(in: 0..<pairs.count, using: &rng)]
            let options = table[command]!
            var arguments = command.split(separator: " ").map(String.init) + Self.baseline(command, files: files, unique: "\(index)")
            // Mostly one hostile option, so that it is not masked by another one's refusal; sometimes more.
            let extra = Int.random(in: 0..<4, using: &rng) == 0 ? Int.random(in: 1...2, using: &rng) : 0
            for option in [first] + (0..<extra).map({ _ in options[Int.random(in: 0..<options.count, using: &rng)] }) {
                if option.isFlag { arguments.append("--\(option.name)"); continue }
                let pool = Self.values(for: option, command: command, files: files, unique: "\(index)")
                // `--name=value` so that values starting with '-' reach the option.
                arguments.append("--\(option.name)=\(pool[Int.random(in: 0..<pool.count, using: &rng)])")
            }
            vectors.append(arguments)
        }
        let failures = Failures(), drawn = vectors
        let workers = 4
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for arguments in stride(from: worker, to: drawn.count, by: workers).map({ drawn[$0] }) {
                do {
                    // In the fixture folder: a relative path drawn for an output lands there, not in the repository.
                    let result = try CLI.run(arguments, in: files.folder, timeout: 120)
                    failures.count(result.status)
                    if let problem = Self.problem(result) { failures.add("\(problem): locallearn \(arguments.joined(separator: " "))") }
                } catch {
                    failures.add("\(error): \(arguments)")
                }
            }
        }
        let found = failures.all
        print("CLI fuzz: \(runs) vectors, exit status tally \(failures.tally.sorted { $0.key < $1.key })")
        #expect(found.isEmpty, "\(found.count) of \(runs) vectors failed:\n\(found.prefix(10).joined(separator: "\n"))")
    }

    /// What is wrong with how a run ended, or nil.
    static func problem(_ result: CLI.Result) -> String? {
        if result.signalled { return "died of a signal (exit \(result.status)): \(result.errors.suffix(300))" }
        if result.timedOut { return "hung (killed after 120 s)" }
        if result.errors.contains("Fatal error") || result.errors.contains("Backtrace") || result.errors.contains("NSCocoaErrorDomain") {
            return "printed a trap or a raw error dump: \(result.errors.prefix(300))"
        }
        switch result.status {
        case 0: return nil
        case 1, 64: return result.errorLine == nil ? "exit \(result.status) without an Error: line: \(result.errors.prefix(300))" : nil
        default: return "exit status \(result.status): \(result.errors.suffix(300))"
        }
    }

    final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        private var statuses: [Int32: Int] = [:]
        func add(_ item: String) { lock.lock(); items.append(item); lock.unlock() }
        func count(_ status: Int32) { lock.lock(); statuses[status, default: 0] += 1; lock.unlock() }
        var tally: [Int32: Int] { lock.lock(); defer { lock.unlock() }; return statuses }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
    }
}
