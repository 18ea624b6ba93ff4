/// A model's weights as named tensors, for safetensors files.
///
/// Names: `<block>.<layer index>.<parameter>`, the layer index counting from 0 within the block —
/// e.g. `fc1.1.weight` and `fc1.1.bias` for the Linear of `fc1` = [Flatten, Linear, Tanh], or
/// `conv1.1.weight` ([out, in, k, k]), `conv1.1.bias`, `conv1.2.weight` (BatchNorm γ), `conv1.2.bias`
/// (β), `conv1.2.running_mean`, `conv1.2.running_var` — the layouts PyTorch uses for the same layers.
public enum ModelWeights {
    public static func tensors(of model: Model) -> [(name: String, tensor: Tensor)] {
        var result: [(String, Tensor)] = []
        for block in model.blocks {
            for (index, layer) in block.layers.enumerated() {
                let prefix = "\(block.name).\(index)."
                for parameter in layer.parameters { result.append((prefix + parameter.name, parameter.value)) }
                if let bn = layer as? BatchNorm {
                    result.append((prefix + "running_mean", bn.runningStatistics.mean))
                    result.append((prefix + "running_var", bn.runningStatistics.variance))
                }
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
        for block in model.blocks {
            for (index, layer) in block.layers.enumerated() {
                let prefix = "\(block.name).\(index)."
                for parameter in layer.parameters { parameter.value = values.removeValue(forKey: prefix + parameter.name)! }
                if let bn = layer as? BatchNorm {
                    bn.runningStatistics = (values.removeValue(forKey: prefix + "running_mean")!, values.removeValue(forKey: prefix + "running_var")!)
                }
            }
        }
    }
}
