/// A model's weights as named tensors, for safetensors files.
///
/// Names: `<layer name>.<parameter>` with `Model.namedLayers` names — `<block>.<layer index>`, and
/// `<block>.<index>.body.<k>` / `.shortcut.<k>` inside residual blocks — e.g. `fc1.1.weight` and
/// `fc1.1.bias` for the Linear of `fc1` = [Flatten, Linear, Tanh], or `conv1.0.weight`
/// ([out, in, k, k]), `conv1.0.bias`, `conv1.1.weight` (BatchNorm γ), `conv1.1.bias` (β),
/// `conv1.1.running_mean`, `conv1.1.running_var` — the layouts PyTorch uses for the same layers.
public enum ModelWeights {
    public static func tensors(of model: Model) -> [(name: String, tensor: Tensor)] {
        var result: [(String, Tensor)] = []
        for (name, layer) in model.namedLayers {
            for parameter in layer.parameters { result.append(("\(name).\(parameter.name)", parameter.value)) }
            if let bn = layer as? BatchNorm {
                result.append(("\(name).running_mean", bn.runningStatistics.mean))
                result.append(("\(name).running_var", bn.runningStatistics.variance))
            }
        }
        return result
    }

    /// A safetensors file of the model's weights, with its spec in the metadata.
    public static func file(of model: Model, metadata: [String: String] = [:]) -> Safetensors.File {
        var file = Safetensors.File(metadata: metadata.merging(["model": model.spec, "format": "locallearn"]) { a, _ in a })
        for (name, tensor) in tensors(of: model) { file.tensors[name] = Safetensors.Entry(tensor) }
        return file
    }

    /// Copies every weight of `model` from `file`, checking names and shapes first, so a mismatch
    /// changes nothing. Tensors not belonging to the model (rule or optimizer state) are ignored.
    public static func load(_ file: Safetensors.File, into model: Model, path: String) throws {
        let loaded = try tensors(of: model).map { try ($0.name, file.tensor($0.name, shape: $0.tensor.shape, path: path)) }
        var values = Dictionary(uniqueKeysWithValues: loaded)
        for (name, layer) in model.namedLayers {
            for parameter in layer.parameters { parameter.value = values.removeValue(forKey: "\(name).\(parameter.name)")! }
            if let bn = layer as? BatchNorm {
                bn.runningStatistics = (values.removeValue(forKey: "\(name).running_mean")!, values.removeValue(forKey: "\(name).running_var")!)
            }
        }
    }
}
