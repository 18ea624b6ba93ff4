/// One setting a rule declares, once: its name (`--NAME` on the command line, `NAME:` in a YAML
/// config, the key a checkpoint saves it under), its help, and how a text value is checked and
/// written into the rule's settings struct — and read back out of it for saving.
public struct RuleOption<Settings> {
    public typealias Kind = RuleOptionKind

    public let name: String
    public let help: String
    public let kind: Kind
    /// The accepted words of a `choice`.
    public let choices: [String]
    let write: (inout Settings, String) throws -> Void
    let read: (Settings) -> String

    public init(name: String, help: String, kind: Kind, choices: [String] = [],
                write: @escaping (inout Settings, String) throws -> Void, read: @escaping (Settings) -> String) {
        self.name = name
        self.help = help
        self.kind = kind
        self.choices = choices
        self.write = write
        self.read = read
    }

    /// A real number; `valid` says which (the message names the requirement).
    public static func number(_ name: String, _ key: WritableKeyPath<Settings, Float>, help: String,
                              requirement: String = "a finite number", valid: @escaping (Float) -> Bool = { _ in true }) -> RuleOption {
        RuleOption(name: name, help: help, kind: .number, write: { settings, text in
            guard let value = Float(text), value.isFinite, valid(value) else {
                throw RuleOptionError("--\(name) must be \(requirement), got '\(text)'")
            }
            settings[keyPath: key] = value
        }, read: { "\($0[keyPath: key])" })
    }

    /// A whole number in `range`.
    public static func integer(_ name: String, _ key: WritableKeyPath<Settings, Int>, help: String,
                               range: ClosedRange<Int>) -> RuleOption {
        RuleOption(name: name, help: help, kind: .integer, write: { settings, text in
            guard let value = Int(text), range.contains(value) else {
                throw RuleOptionError("--\(name) must be a whole number in \(range.lowerBound)…\(range.upperBound), got '\(text)'")
            }
            settings[keyPath: key] = value
        }, read: { "\($0[keyPath: key])" })
    }

    public static func flag(_ name: String, _ key: WritableKeyPath<Settings, Bool>, help: String) -> RuleOption {
        RuleOption(name: name, help: help, kind: .flag, write: { settings, text in
            guard let value = Bool(text) else { throw RuleOptionError("--\(name) is a flag: true or false, got '\(text)'") }
            settings[keyPath: key] = value
        }, read: { "\($0[keyPath: key])" })
    }

    /// One of an enumeration's raw values.
    public static func choice<Value: RawRepresentable & CaseIterable & Equatable>(
        _ name: String, _ key: WritableKeyPath<Settings, Value>, help: String) -> RuleOption where Value.RawValue == String {
        named(name, key, help: help, names: Value.allCases.map { ($0.rawValue, $0) })
    }

    /// One of a fixed list of words, each standing for a value.
    public static func named<Value: Equatable>(_ name: String, _ key: WritableKeyPath<Settings, Value>, help: String,
                                               names: [(String, Value)]) -> RuleOption {
        RuleOption(name: name, help: help, kind: .choice, choices: names.map(\.0), write: { settings, text in
            guard let value = names.first(where: { $0.0 == text })?.1 else {
                throw RuleOptionError("unknown --\(name) '\(text)'; expected one of: \(names.map(\.0).joined(separator: ", "))")
            }
            settings[keyPath: key] = value
        }, read: { settings in names.first { $0.1 == settings[keyPath: key] }?.0 ?? "?" })
    }
}

/// What a rule option's value is.
public enum RuleOptionKind: String, Sendable {
    /// `--name` alone sets it; saved as true/false.
    case flag
    case integer
    case number
    /// One word out of the option's choices.
    case choice
}

/// A bad rule option: unknown for the rule, missing its value, or out of range.
public struct RuleOptionError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Options several rules share, declared once.
extension RuleOption {
    /// Consecutive blocks a greedy local rule trains as one unit.
    public static func localUnit(_ key: WritableKeyPath<Settings, Int>) -> RuleOption {
        .integer("local-unit", key, help: "Train this many consecutive blocks as one unit, with backprop inside it.", range: 1...100_000)
    }

    /// How fixed random feedback matrices are drawn.
    public static func feedbackInit(_ key: WritableKeyPath<Settings, Initializer>) -> RuleOption {
        .named("feedback-init", key, help: "Feedback matrices: xavier (Xavier-uniform), kaiming (Kaiming-uniform), uniform (U(±1/√fan-in), as torch's Linear init).",
               names: [("xavier", .xavierUniform), ("kaiming", .kaimingUniform), ("uniform", .pytorchDefault)])
    }

    /// Keep every weighted layer's ‖W‖_F at its initial value.
    public static func constrainWeights(_ key: WritableKeyPath<Settings, Bool>) -> RuleOption {
        .flag("constrain-weights", key, help: "Keep every weighted layer's Frobenius norm at its initial value.")
    }
}
