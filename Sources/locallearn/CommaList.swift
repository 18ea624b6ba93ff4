import ArgumentParser
import LocalLearning

/// Comma-separated list options of the experiment commands, parsed (and refused with the reason) in
/// one place: `validate()` calls these to check, `run()` to read the values.
enum CommaList {
    /// `text` as positive integers, e.g. "2,4,8"; `option` names the flag in the error.
    static func positiveIntegers(_ text: String, option: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0) }
        guard values.allSatisfy({ $0.map { $0 > 0 } ?? false }) else {
            throw ValidationError("\(option) must be positive integers separated by commas, got '\(text)'")
        }
        return values.compactMap { $0 }
    }

    /// `text` as rule names, each one the registry knows.
    static func ruleNames(_ text: String) throws -> [String] {
        let names = text.split(separator: ",").map(String.init)
        for name in names where RuleRegistry.descriptor(named: name) == nil {
            throw ValidationError("unknown rule '\(name)'; expected some of: \(RuleRegistry.help)")
        }
        return names
    }
}
