import Foundation

/// Accuracy under attack of each rule's trained network, as `locallearn robustness --json` writes it
/// and `compare --robustness` tabulates it.
public enum RobustnessTable {
    /// One measurement: an attack (`clean`, `fgsm`, `pgd`, `noise`) at a budget ε, on the test samples used.
    public struct Record: Codable, Sendable, Equatable {
        public var attack: String
        public var epsilon: String
        public var accuracy: Double
        public var loss: Double

        public init(attack: String, epsilon: String, accuracy: Double, loss: Double) {
            (self.attack, self.epsilon, self.accuracy, self.loss) = (attack, epsilon, accuracy, loss)
        }

        var column: String { attack == "clean" ? "clean" : "\(attack) \(epsilon)" }
    }

    public static func write(_ records: [Record], to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(records).write(to: URL(fileURLWithPath: path))
    }

    public static func read(_ path: String) throws -> [Record] {
        try JSONDecoder().decode([Record].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// A markdown table: a row per rule, a column per attack and budget (in the order measured); a
    /// rule run over several seeds shows the mean accuracy over its seeds' networks.
    public static func markdown(_ rules: [(rule: String, runs: [[Record]])]) -> String {
        var columns: [String] = []
        for record in rules.flatMap({ $0.runs.flatMap { $0 } }) where !columns.contains(record.column) { columns.append(record.column) }
        guard !columns.isEmpty else { return "" }
        var text = "| rule | " + columns.joined(separator: " | ") + " |\n|---|" + String(repeating: "---:|", count: columns.count) + "\n"
        for (rule, runs) in rules where !runs.isEmpty {
            let cells = columns.map { column -> String in
                let values = runs.compactMap { run in run.first { $0.column == column }?.accuracy }
                guard values.count == runs.count else { return "–" }
                return runs.count > 1 ? ComparisonRow.spread(values) : String(format: "%.2f%%", values[0] * 100)
            }
            text += "| \(rule) | " + cells.joined(separator: " | ") + " |\n"
        }
        return text
    }
}
