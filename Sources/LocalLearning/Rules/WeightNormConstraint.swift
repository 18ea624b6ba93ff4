/// Keeps each weighted layer's Frobenius norm ‖W‖ at its value when first seen, by rescaling W
/// after every update (an option of the feedback-alignment rules, `--constrain-weights`).
public final class WeightNormConstraint {
    private var norms: [ObjectIdentifier: Double] = [:]

    public init() {}

    /// Records the norm of every weighted layer not seen yet.
    public func prepare(_ model: Model) {
        for layer in model.weightedLayers where norms[ObjectIdentifier(layer)] == nil {
            norms[ObjectIdentifier(layer)] = layer.weight.value.squaredNorm.squareRoot()
        }
    }

    /// Rescales every weighted layer back to its recorded norm.
    public func apply(_ model: Model) {
        for layer in model.weightedLayers {
            guard let target = norms[ObjectIdentifier(layer)] else { continue }
            let now = layer.weight.value.squaredNorm.squareRoot()
            guard now > 0 else { continue }
            let scale = Float(target / now)
            layer.weight.value.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] *= scale } }
        }
    }
}

extension WeightNormConstraint {
    /// `<block>.<layer>.target_norm` (F64) for every recorded layer.
    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] {
        var entries: [String: Safetensors.Entry] = [:]
        for (name, layer) in model.namedWeightedLayers {
            guard let norm = norms[ObjectIdentifier(layer)] else { continue }
            entries["\(name).target_norm"] = .init(dtype: .f64, shape: [1], bytes: withUnsafeBytes(of: norm.bitPattern.littleEndian, Array.init))
        }
        return entries
    }

    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {
        for (name, layer) in model.namedWeightedLayers {
            let key = "\(prefix)\(name).target_norm"
            guard let entry = file.tensors[key] else { throw CheckpointError.missingTensor(path: path, name: key) }
            guard entry.dtype == .f64, entry.shape == [1] else {
                throw CheckpointError.wrongTensor(path: path, name: key, reason: "\(entry.dtype.rawValue) \(entry.shape), expected F64 [1]")
            }
            norms[ObjectIdentifier(layer)] = entry.bytes.withUnsafeBytes { Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        }
    }
}
