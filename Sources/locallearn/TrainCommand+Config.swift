import ArgumentParser
import Foundation
import LocalLearning
import LocalLearningTools

extension TrainCommand {
    typealias Setter = (inout TrainCommand, ConfigValue) throws -> Void

    /// Every `train` option by its command-line name (without the dashes), with its type and setter.
    static var configKeys: [String: (ConfigKind, Setter)] {
        func text(_ set: @escaping (inout TrainCommand, String) -> Void) -> (ConfigKind, Setter) {
            (.text, { c, v in if case let .text(s) = v { set(&c, s) } })
        }
        func integer(_ set: @escaping (inout TrainCommand, Int) -> Void) -> (ConfigKind, Setter) {
            (.integer, { c, v in if case let .integer(n) = v { set(&c, n) } })
        }
        func number(_ set: @escaping (inout TrainCommand, Float) -> Void) -> (ConfigKind, Setter) {
            (.number, { c, v in
                if case let .number(x) = v { set(&c, Float(x)) } else if case let .integer(n) = v { set(&c, Float(n)) }
            })
        }
        func flag(_ set: @escaping (inout TrainCommand, Bool) -> Void) -> (ConfigKind, Setter) {
            (.flag, { c, v in if case let .flag(b) = v { set(&c, b) } })
        }
        /// A value out of a fixed set: refused with the accepted names, as on the command line.
        func choice<T: ExpressibleByArgument & CaseIterable & RawRepresentable>(
            _ key: String, _ set: @escaping (inout TrainCommand, T) -> Void) -> (ConfigKind, Setter) where T.RawValue == String {
            (.text, { c, v in
                guard case let .text(s) = v else { return }
                guard let value = T(rawValue: s) else {
                    throw ValidationError("key '\(key)': unknown value '\(s)'; expected one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                set(&c, value)
            })
        }
        return [
            "rule": text { $0.rule = $1 }, "model": text { $0.model = $1 }, "dataset": choice("dataset") { $0.dataset = $1 },
            "data-dir": text { $0.dataDir = $1 }, "epochs": integer { $0.epochs = $1 }, "batch-size": integer { $0.batchSize = $1 },
            "optimizer": choice("optimizer") { $0.optimizer = $1 }, "lr": number { $0.lr = $1 }, "momentum": number { $0.momentum = $1 },
            "nesterov": flag { $0.nesterov = $1 }, "weight-decay": number { $0.weightDecay = $1 }, "schedule": text { $0.schedule = $1 },
            "warmup-epochs": integer { $0.warmupEpochs = $1 },
            "seed": integer { c, n in c.seed = UInt64(truncatingIfNeeded: n) },
            "threads": integer { $0.threads = $1 }, "crop-padding": integer { $0.cropPadding = $1 },
            "horizontal-flip": flag { $0.horizontalFlip = $1 }, "standardize": flag { $0.standardize = $1 },
            "train-limit": integer { $0.trainLimit = $1 }, "initializer": choice("initializer") { $0.initializer = $1 }, "log": text { $0.log = $1 },
            "diagnostics": flag { $0.diagnostics = $1 },
            "checkpoint-dir": text { $0.checkpointDir = $1 },
            "checkpoint-every": integer { $0.checkpointEvery = $1 }, "show-model": flag { $0.showModel = $1 }, "overwrite": flag { $0.overwrite = $1 }, "keep-best": flag { $0.keepBest = $1 },
            "on-nan": choice("on-nan") { $0.onNaN = $1 },
            "stages": integer { $0.stages = $1 }, "stage-boundaries": text { $0.stageBoundaries = $1 },
            "per-unit-stages": flag { $0.perUnitStages = $1 },
            "transient-gradients": flag { $0.transientGradients = $1 },
            "val-split": number { $0.valSplit = $1 }, "classes": text { $0.classes = $1 },
        ]
    }

    /// Every rule's own options as config keys: the value is handed to the rule as if typed after
    /// `--NAME` (the rule checks it; a key of another rule than the run's is refused there).
    static var ruleConfigKeys: [String: (ConfigKind, Setter)] {
        var keys: [String: (ConfigKind, Setter)] = [:]
        for option in RuleRegistry.all.flatMap(\.options) {
            let kind: ConfigKind = switch option.kind {
            case .flag: .flag
            case .integer: .integer
            case .number: .number
            case .choice: .text
            }
            keys[option.name] = (kind, { command, value in
                let text: String = switch value {
                case let .text(s): s
                case let .integer(n): "\(n)"
                case let .number(x): "\(x)"
                case let .flag(b): "\(b)"
                }
                command.ruleArguments += ["--\(option.name)=\(text)"]
            })
        }
        return keys
    }

    /// The schema the file is checked against (numbers also accept integers).
    static var configSchema: [String: ConfigKind] { configKeys.merging(ruleConfigKeys) { own, _ in own }.mapValues(\.0) }

    /// Options named on the command line, which win over the file.
    static func optionsGiven(_ arguments: [String]) -> Set<String> {
        Set(arguments.compactMap { argument -> String? in
            guard argument.hasPrefix("--") else { return nil }
            return String(argument.dropFirst(2).prefix { $0 != "=" })
        })
    }

    /// This command with the file's values for every option not given on the command line.
    func applying(configFile path: String, arguments: [String]) throws -> TrainCommand {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandError("\(path): configuration file not found or unreadable")
        }
        let values: [String: ConfigValue]
        do {
            values = try ConfigFile.parse(String(decoding: data, as: UTF8.self), path: path, schema: Self.configSchema)
        } catch let error as ConfigError {
            throw CommandError(error.description)
        }
        let given = Self.optionsGiven(arguments), keys = Self.configKeys.merging(Self.ruleConfigKeys) { own, _ in own }
        var command = self
        do {
            for (key, value) in values where !given.contains(key) { try keys[key]!.1(&command, value) }
            try command.validate()
        } catch let error as ValidationError {
            throw CommandError("\(path): \(error.message)")
        }
        return command
    }
}
