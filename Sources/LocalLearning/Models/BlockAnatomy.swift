/// Why a block cannot be read as a `BlockAnatomy`.
struct AnatomyError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A block read as a weighted layer, its activation and what surrounds them: [Flatten] W [BatchNorm…]
/// φ [pooling…], a residual block [Residual(W BatchNorm* φ W BatchNorm*) φ pooling…], or [pooling…]
/// [Flatten] W for the classifier (a ResNet's global average pool, Flatten, Linear). Rules that give each layer its own target (rec-LRA) read the model this way.
struct BlockAnatomy {
    let block: Block
    let weightIndex: Int
    /// Index of the activation φ (nil for the classifier).
    let activationIndex: Int?
    /// For a residual block [Residual, φ, pooling…]: its parts (then `weightIndex` is the Residual's).
    var residual: ResidualParts? = nil

    var weighted: WeightedLayer { block.layers[weightIndex] as! WeightedLayer }
    var function: ActivationFunction? { activationIndex.map { (block.layers[$0] as! Activation).function } }
    /// Index of the layer whose output is h (the pre-activation; the logits for the classifier).
    var preActivationIndex: Int { (activationIndex ?? block.layers.count) - 1 }
}

extension BlockAnatomy {
    /// A residual block's body [W₁ BatchNorm* φ₁ W₂ BatchNorm*] and shortcut, by index into `body`.
    struct ResidualParts {
        let unit: Residual
        let innerActivation: Int
        let outerWeight: Int
        var body: [Layer] { unit.body }
        var outer: WeightedLayer { body[outerWeight] as! WeightedLayer }
        var innerFunction: ActivationFunction { (body[innerActivation] as! Activation).function }

        init?(_ unit: Residual) {
            let body = unit.body
            guard body.first is WeightedLayer, let a = body.firstIndex(where: { $0 is Activation }),
                  body[1..<a].allSatisfy({ $0 is BatchNorm }), a + 1 < body.count, body[a + 1] is WeightedLayer,
                  body[(a + 2)...].allSatisfy({ $0 is BatchNorm }),
                  unit.shortcut.isEmpty || (unit.shortcut.first is WeightedLayer && unit.shortcut.dropFirst().allSatisfy({ $0 is BatchNorm })) else {
                return nil
            }
            (self.unit, innerActivation, outerWeight) = (unit, a, a + 1)
        }
    }
}

extension BlockAnatomy {
    /// Every block of `model` read this way, or the first block that cannot be (the error says what is expected).
    static func of(_ model: Model) -> Result<[BlockAnatomy], AnatomyError> {
        var stages: [BlockAnatomy] = []
        for (index, block) in model.blocks.enumerated() {
            let layers = block.layers, last = index == model.blocks.count - 1
            func refuse(_ why: String) -> Result<[BlockAnatomy], AnatomyError> {
                .failure(AnatomyError("blocks of [Flatten] Linear/Conv2D/Perturbative [BatchNorm] activation [pooling], "
                                   + "residual blocks, and a linear classifier after [pooling] [Flatten]; block \(block.name) (\(layers.map(\.summary).joined(separator: " → "))) \(why)"))
            }
            if let unit = layers.first as? Residual, !last {
                guard let parts = ResidualParts(unit), layers.count >= 2, layers[1] is Activation,
                      layers[2...].allSatisfy(SignalTap.isPooling) else {
                    return refuse("is a residual block rec-LRA cannot read: it needs a body W BatchNorm* φ W BatchNorm*, "
                                  + "an identity or W BatchNorm* shortcut, and φ after the sum")
                }
                stages.append(BlockAnatomy(block: block, weightIndex: 0, activationIndex: 1, residual: parts))
                continue
            }
            let weighted = layers.indices.filter { layers[$0] is WeightedLayer }
            guard weighted.count == 1, let w = weighted.first, !layers.contains(where: { $0 is CompositeLayer }) else {
                return refuse("needs exactly one weighted layer and no residual connection")
            }
            guard layers[..<w].allSatisfy({ $0 is Flatten || (last && SignalTap.isPooling($0)) }) else {
                return refuse("has layers before its weighted layer" + (last ? " other than pooling and Flatten" : ""))
            }
            if last {
                guard w == layers.count - 1 else { return refuse("is the classifier and must end in its weighted layer") }
                stages.append(BlockAnatomy(block: block, weightIndex: w, activationIndex: nil))
                continue
            }
            guard let a = layers.indices.first(where: { $0 > w && layers[$0] is Activation }),
                  layers[(w + 1)..<a].allSatisfy({ $0 is BatchNorm }),
                  layers[(a + 1)...].allSatisfy(SignalTap.isPooling) else {
                return refuse("needs its activation after the weighted layer, with only BatchNorm between and pooling after")
            }
            stages.append(BlockAnatomy(block: block, weightIndex: w, activationIndex: a))
        }
        return .success(stages)
    }
}
