import ArgumentParser
import LocalLearning

/// `locallearn rules [RULE]`: what each registered rule is, its recipe and its options.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "List the learning rules, or explain one: its recipe, default initialiser and options."
    )

    @Argument(help: "A rule name (default: list them all).")
    var rule: String?

    func validate() throws {
        if let rule, RuleRegistry.descriptor(named: rule) == nil {
            throw ValidationError("unknown rule '\(rule)'; expected one of: \(RuleRegistry.help)")
        }
    }

    func run() throws {
        guard let rule, let descriptor = RuleRegistry.descriptor(named: rule) else {
            let width = RuleRegistry.names.map(\.count).max() ?? 0
            for descriptor in RuleRegistry.all {
                print(descriptor.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + descriptor.summary)
            }
            print("\nlocallearn rules RULE explains one rule's options; train takes them like its other options.")
            return
        }
        print("\(descriptor.name) — \(descriptor.summary)")
        let recipe = descriptor.recipe
        print("recipe in compare: \(recipe.optimizer.rawValue) lr \(recipe.learningRate); initialiser: \(descriptor.initializer.rawValue)")
        guard !descriptor.options.isEmpty else { return print("options: none") }
        print("options:")
        for option in descriptor.options {
            let value = switch option.kind {
            case .flag: ""
            case .choice: " <\(option.choices.joined(separator: "|"))>"
            default: " <\(option.kind.rawValue)>"
            }
            print("  --\(option.name)\(value)" + (option.kind == .flag ? "" : "  (default: \(option.defaultValue))"))
            for line in Self.wrap(option.help, width: 74) { print("      " + line) }
        }
    }

    /// `text` in lines of at most `width` characters, broken between words.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        return line.isEmpty ? lines : lines + [line]
    }
}
