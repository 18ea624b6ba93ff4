/// Optimizers that keep per-parameter moments in `OptimizerSlots` (SGD, Adam, AdamW, Adamax).
protocol HasOptimizerSlots {
    var slots: OptimizerSlots { get }
}

extension Optimizer {
    /// Per named parameter: `<name>.first`, `<name>.second` (the moments it has) and `<name>.steps`.
    public func checkpointState(_ parameters: [(name: String, parameter: Parameter)]) -> [String: Safetensors.Entry] {
        guard let store = (self as? HasOptimizerSlots)?.slots else { return [:] }
        var entries: [String: Safetensors.Entry] = [:]
        for (name, parameter) in parameters {
            guard let slot = store.existingSlot(for: parameter) else { continue }
            if !slot.first.isEmpty { entries["\(name).first"] = .init(Tensor(shape: parameter.value.shape, scalars: slot.first)) }
            if !slot.second.isEmpty { entries["\(name).second"] = .init(Tensor(shape: parameter.value.shape, scalars: slot.second)) }
            entries["\(name).steps"] = .init([UInt64(slot.steps)])
        }
        return entries
    }

    /// Restores what `checkpointState` saved under `prefix`; parameters without saved steps keep fresh slots.
    public func restoreState(_ file: Safetensors.File, prefix: String, parameters: [(name: String, parameter: Parameter)],
                             path: String) throws {
        guard let store = (self as? HasOptimizerSlots)?.slots else { return }
        for (name, parameter) in parameters {
            let key = prefix + name
            guard file.tensors["\(key).steps"] != nil else { continue }
            let slot = store.slot(for: parameter)
            slot.steps = Int(try file.unsignedIntegers("\(key).steps", path: path).first ?? 0)
            if !slot.first.isEmpty { slot.first = try file.tensor("\(key).first", shape: parameter.value.shape, path: path).scalars }
            if !slot.second.isEmpty { slot.second = try file.tensor("\(key).second", shape: parameter.value.shape, path: path).scalars }
        }
    }
}
