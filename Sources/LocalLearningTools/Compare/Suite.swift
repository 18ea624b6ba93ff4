import Foundation
import LocalLearning
import Yams

/// A results suite: a title, training options every row shares, and rows — each a name, its own
/// options (which win over the shared ones) and, optionally, the paper's figure to print beside
/// ours. Read from YAML:
///
/// ```yaml
/// title: CIFAR-10 (JPEG q75), smallconv, 20 epochs
/// options: {dataset: cifar10, model: smallconv, epochs: 20, standardize: true}
/// rows:
///   - rule: bp
///     paper: "LLS paper, SmallConv: 79.43%"
///   - name: sll+
///     rule: sll
///     local-unit: 2
/// ```
///
/// Option keys are `locallearn train`'s option names without the dashes (a rule's own options
/// included); the values become that command's arguments. With `seeds: [1, 2, 3]` every row runs
/// once per seed (runs `ROW.seedN`, each resumable on its own) and the tables show mean ± standard
/// deviation over the seeds.
public struct Suite: Sendable {
    public struct Row: Sendable, Equatable {
        /// The row's name: its log is `NAME.jsonl` (default: its rule).
        public var name: String
        public var options: [String: String]
        /// The paper's figure for this row, as text.
        public var paper: String?
    }

    /// One training run of a row: the row itself, or one of its seeds.
    public struct Run: Sendable, Equatable {
        /// The run's log is `NAME.jsonl`, its checkpoints `checkpoints/NAME`.
        public var name: String
        public var seed: UInt64?
    }

    public var title: String
    public var notes: String?
    public var options: [String: String]
    public var rows: [Row]
    /// Seeds every row runs with (empty: each row once, with its own or the shared seed).
    public var seeds: [UInt64] = []

    /// The runs of `row`: one per seed, or the row alone.
    public func runs(of row: Row) -> [Run] {
        seeds.isEmpty ? [Run(name: row.name, seed: nil)] : seeds.map { Run(name: "\(row.name).seed\($0)", seed: $0) }
    }

    /// Reads a suite; throws `ConfigError`-style messages naming the file and the problem.
    public static func parse(_ text: String, path: String) throws -> Suite {
        let loaded: Any?
        do { loaded = try Yams.load(yaml: text) } catch { throw SuiteError("\(path): not valid YAML: \(error)") }
        guard let root = loaded as? [String: Any] else { throw SuiteError("\(path): expected a mapping with title, options and rows") }
        for key in root.keys where !["title", "notes", "options", "rows", "seeds"].contains(key) {
            throw SuiteError("\(path): unknown key '\(key)'; expected title, notes, options, rows, seeds")
        }
        var seeds: [UInt64] = []
        if let list = root["seeds"] {
            guard let values = list as? [Any], !values.isEmpty,
                  case let parsed = values.compactMap({ ($0 as? Int).flatMap { $0 >= 0 ? UInt64($0) : nil } }), parsed.count == values.count,
                  Set(parsed).count == parsed.count else {
                throw SuiteError("\(path): 'seeds' must be a list of distinct non-negative integers, e.g. [1, 2, 3]")
            }
            seeds = parsed
        }
        guard let title = root["title"] as? String, !title.isEmpty else { throw SuiteError("\(path): 'title' is missing") }
        let options = try values(root["options"] ?? [String: Any](), where: "\(path): options")
        guard let list = root["rows"] as? [Any], !list.isEmpty else { throw SuiteError("\(path): 'rows' must be a non-empty list") }
        var rows: [Row] = []
        for (index, item) in list.enumerated() {
            guard var fields = item as? [String: Any] else { throw SuiteError("\(path): row \(index + 1) is not a mapping") }
            let paper = fields.removeValue(forKey: "paper").map { "\($0)" }
            let explicitName = fields.removeValue(forKey: "name").map { "\($0)" }
            let own = try values(fields, where: "\(path): row \(index + 1)")
            guard let name = explicitName ?? own["rule"] ?? options["rule"] else { throw SuiteError("\(path): row \(index + 1) names no rule") }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "+-_.=".contains($0) }) else {
                throw SuiteError("\(path): row name '\(name)' may hold only letters, digits and + - _ . =")
            }
            guard !rows.contains(where: { $0.name == name }) else { throw SuiteError("\(path): two rows are called '\(name)'; give one a name") }
            rows.append(Row(name: name, options: own, paper: paper))
        }
        return Suite(title: title, notes: root["notes"] as? String, options: options, rows: rows, seeds: seeds)
    }

    /// Scalars as the command line would spell them; refuses lists and mappings.
    static func values(_ object: Any, where place: String) throws -> [String: String] {
        guard let mapping = object as? [String: Any] else { throw SuiteError("\(place): expected a mapping of option: value") }
        var result: [String: String] = [:]
        for (key, value) in mapping {
            switch value {
            case let flag as Bool: result[key] = flag ? "true" : "false"
            case let number as Int: result[key] = "\(number)"
            case let number as Double: result[key] = "\(number)"
            case let text as String: result[key] = text
            default: throw SuiteError("\(place): '\(key)' must be a single value")
            }
        }
        return result
    }

    /// `locallearn train` arguments for `row`: the shared options with the row's own on top. Flags
    /// (true/false values) become `--key` or nothing.
    public func arguments(for row: Row, seed: UInt64? = nil) -> [String] {
        var merged = options.merging(row.options) { _, own in own }
        if let seed { merged["seed"] = "\(seed)" }
        return merged.keys.sorted().flatMap { key -> [String] in
            switch merged[key]! {
            case "true": ["--\(key)"]
            case "false": []
            case let value: ["--\(key)=\(value)"]
            }
        }
    }
}

public struct SuiteError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
