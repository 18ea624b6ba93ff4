import Foundation

/// Everything needed to continue a run exactly, in one safetensors file `checkpoint.safetensors`:
///
/// | tensor names | what |
/// |---|---|
/// | `model.<block>.<layer>.<param>` | model weights and BatchNorm running statistics (`ModelWeights` names) |
/// | `rule.<name>` | the rule's own parameters and state (`RuleCheckpointing`): feedback matrices, error synapses, modulations, projections, generator states |
/// | `optimizer.model.<…>.first`, `.second`, `.steps` | the optimizer's moments and step counts per parameter (`optimizer.rule.<…>` for the rule's parameters) |
/// | `rng.<block>.<layer>` | Dropout mask generators (U64 ×4) |
///
/// Metadata (strings): `format` = `locallearn-checkpoint`, `version`, `rule`, `model`, `position` (JSON
/// `TrainingPosition`: epoch in progress, steps done in it, its running sums), `reports` (JSON epoch
/// reports so far) and `configuration` (the run's resolved configuration, JSON). The data order and
/// augmentation follow from the seed and the position, so they need no tensors.
public enum TrainingCheckpoint {
    public static let fileName = "checkpoint.safetensors"
    public static let version = "1"

    public struct Contents: Sendable {
        public var position: TrainingPosition
        public var reports: [EpochReport]
        public var configuration: String
    }

    static func ruleParameters(_ rule: LearningRule, _ model: Model) -> [(name: String, parameter: Parameter)] {
        rule.ownParameters(model)
    }

    public static func file(model: Model, rule: LearningRule, optimizer: Optimizer, position: TrainingPosition,
                            reports: [EpochReport], configuration: String) throws -> Safetensors.File {
        let stateful = rule
        var file = Safetensors.File()
        for (name, tensor) in ModelWeights.tensors(of: model) { file.tensors["model.\(name)"] = .init(tensor) }
        let ownParameters = stateful.ownParameters(model)
        for (name, parameter) in ownParameters { file.tensors["rule.\(name)"] = .init(parameter.value) }
        for (name, entry) in stateful.checkpointState(model) { file.tensors["rule.\(name)"] = entry }
        let named = model.namedParameters.map { ("model.\($0.name)", $0.parameter) } + ownParameters.map { ("rule.\($0.name)", $0.parameter) }
        for (name, entry) in optimizer.checkpointState(named) { file.tensors["optimizer.\(name)"] = entry }
        for (name, dropout) in model.namedDropouts { file.tensors["rng.\(name)"] = .init(dropout.randomState) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        file.metadata = [
            "format": "locallearn-checkpoint", "version": version, "rule": rule.name, "model": model.spec,
            "position": String(decoding: try encoder.encode(position), as: UTF8.self),
            "reports": String(decoding: try encoder.encode(reports), as: UTF8.self),
            "configuration": configuration,
        ]
        return file
    }

    /// Writes `<directory>/<name>` (default `checkpoint.safetensors`) atomically (the previous checkpoint survives a crash).
    public static func save(to directory: String, name: String = fileName, model: Model, rule: LearningRule, optimizer: Optimizer,
                            position: TrainingPosition, reports: [EpochReport], configuration: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.writeFailed(path: directory, reason: "cannot create the folder")
        }
        try Safetensors.write(file(model: model, rule: rule, optimizer: optimizer, position: position, reports: reports,
                                   configuration: configuration), to: "\(directory)/\(name)")
    }

    /// Reads a checkpoint's metadata without touching any model.
    public static func contents(of file: Safetensors.File, path: String) throws -> Contents {
        guard file.metadata["format"] == "locallearn-checkpoint" else {
            if file.metadata["format"] == "locallearn" {
                throw CheckpointError.corrupt(path: path, reason: "holds exported model weights only (no optimizer, rule or position), "
                                              + "so it cannot be resumed; `locallearn eval --checkpoint` reads it")
            }
            throw CheckpointError.corrupt(path: path, reason: "not a locallearn training checkpoint (metadata format is \(file.metadata["format"] ?? "missing"))")
        }
        guard file.metadata["version"] == version else {
            throw CheckpointError.corrupt(path: path, reason: "checkpoint version \(file.metadata["version"] ?? "?"), this build reads \(version)")
        }
        let decoder = JSONDecoder()
        guard let position = file.metadata["position"].flatMap({ try? decoder.decode(TrainingPosition.self, from: Data($0.utf8)) }),
              let reports = file.metadata["reports"].flatMap({ try? decoder.decode([EpochReport].self, from: Data($0.utf8)) }) else {
            throw CheckpointError.corrupt(path: path, reason: "unreadable position or reports metadata")
        }
        return Contents(position: position, reports: reports, configuration: file.metadata["configuration"] ?? "{}")
    }

    /// Restores `model`, `rule` and `optimizer` (freshly built from the same configuration) from `file`;
    /// every name and shape is checked against the model.
    public static func restore(_ file: Safetensors.File, path: String, model: Model, rule: LearningRule,
                               optimizer: Optimizer) throws -> Contents {
        let contents = try contents(of: file, path: path)
        guard file.metadata["rule"] == rule.name else {
            throw CheckpointError.corrupt(path: path, reason: "saved by rule \(file.metadata["rule"] ?? "?"), not \(rule.name)")
        }
        let stateful = rule
        var weights = Safetensors.File()
        for (name, entry) in file.tensors where name.hasPrefix("model.") { weights.tensors[String(name.dropFirst(6))] = entry }
        try ModelWeights.load(weights, into: model, path: path)
        let ownParameters = stateful.ownParameters(model)
        for (name, parameter) in ownParameters {
            parameter.value = try file.tensor("rule.\(name)", shape: parameter.value.shape, path: path)
        }
        try stateful.restoreState(file, prefix: "rule.", model: model, path: path)
        let named = model.namedParameters.map { ("model.\($0.name)", $0.parameter) } + ownParameters.map { ("rule.\($0.name)", $0.parameter) }
        try optimizer.restoreState(file, prefix: "optimizer.", parameters: named, path: path)
        for (name, dropout) in model.namedDropouts {
            dropout.randomState = try file.generatorState("rng.\(name)", path: path)
        }
        return contents
    }
}
