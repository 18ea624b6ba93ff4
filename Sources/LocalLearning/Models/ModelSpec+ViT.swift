/// `vit:patch4-dim128-depth6-heads4-mlp2[:cls|:mean][:dropoutP]` — a Vision Transformer
/// (Dosovitskiy et al. 2021) in its pre-norm form, on any image [C, H, W] whose sides are multiples
/// of the patch:
///
/// - block1: Patchify(P) → Linear(C·P·P → D) (the patch embedding) → class token and learned
///   position embedding → the first transformer block;
/// - blockK: x + Attn(LN(x)), then x + MLP(LN(x)): Attn = Linear(D → 3D) → SelfAttention(H heads) →
///   Linear(D → D); MLP = Linear(D → m·D) → GELU → Linear(m·D → D); dropout P after the attention
///   projection and after each MLP linear when set;
/// - classifier: the class token (`cls`, default) or the mean token (`mean`) → LayerNorm → Linear(D → classes).
///
/// Fields may come in any order; defaults patch 4, dim 128, depth 6, heads 4, mlp 2. Each transformer
/// block is one `Block`, the unit that local rules train (the embedding trains with the first).
public struct ViTSpec: Equatable, Sendable {
    public var patch = 4, dimension = 128, depth = 6, heads = 4, mlpRatio = 2
    public var reading = TokenPool.Reading.classToken
    public var dropout: Float = 0

    static let grammar = "vit:patchP-dimD-depthN-headsH-mlpM[:cls|:mean][:dropoutP]"

    init(_ spec: String, fields: String, options: [String]) throws {
        func refuse(_ why: String) -> ModelError { .invalidSpec(spec: spec, reason: "\(why); expected \(Self.grammar)") }
        var seen: Set<String> = []
        for token in fields.split(separator: "-", omittingEmptySubsequences: false).map({ $0.lowercased() }) where !(fields.isEmpty && token.isEmpty) {
            guard let name = ["patch", "dim", "depth", "heads", "mlp"].first(where: { token.hasPrefix($0) }),
                  let value = Int(token.dropFirst(name.count)) else { throw refuse("'\(token)' is not a field") }
            guard seen.insert(name).inserted else { throw refuse("'\(name)' is given twice") }
            guard value > 0, value <= 65_536 else { throw refuse("'\(token)': \(name) must be in 1...65536") }
            switch name {
            case "patch": patch = value
            case "dim": dimension = value
            case "depth": depth = value
            case "heads": heads = value
            default: mlpRatio = value
            }
        }
        guard depth <= ModelFootprint.maximumLayers / 4 else { throw refuse("depth \(depth) is more than \(ModelFootprint.maximumLayers / 4) blocks") }
        guard dimension % heads == 0 else { throw refuse("dim \(dimension) does not split into \(heads) heads") }
        for option in options where !option.isEmpty {
            let t = option.lowercased()
            if let reading = TokenPool.Reading(rawValue: t) {
                self.reading = reading
            } else if t.hasPrefix("dropout"), let p = Float(t.dropFirst("dropout".count)), p >= 0, p < 1 {
                dropout = p
            } else {
                throw refuse("unknown option '\(option)'")
            }
        }
    }

    /// Patches of an image [C, H, W] and the features of each; refused when the image does not cut into patches.
    func tokens(_ spec: String, _ inputShape: [Int]) throws -> (patches: Int, features: Int) {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }), inputShape[1] % patch == 0, inputShape[2] % patch == 0 else {
            throw ModelError.invalidSpec(spec: spec, reason: "a ViT needs an image [C, H, W] with H and W multiples of the patch \(patch), got \(inputShape)")
        }
        return ((inputShape[1] / patch) * (inputShape[2] / patch), inputShape[0] * patch * patch)
    }
}

extension ModelSpec {
    static func vit(_ spec: String, fields: String, options: [String], inputShape: [Int], classes: Int,
                    initializer: Initializer, rng: inout SeededGenerator) throws -> [Block] {
        let v = try ViTSpec(spec, fields: fields, options: options)
        let (patches, features) = try v.tokens(spec, inputShape)
        let d = v.dimension
        func linear(_ i: Int, _ o: Int, rng: inout SeededGenerator) -> Linear { Linear(i, o, initializer: initializer, rng: &rng) }
        func dropout(rng: inout SeededGenerator) -> [Layer] { v.dropout > 0 ? [Dropout(probability: v.dropout, rng: &rng)] : [] }
        var blocks: [Block] = []
        for index in 0..<v.depth {
            var layers: [Layer] = []
            if index == 0 {
                layers = [Patchify(patch: v.patch), linear(features, d, rng: &rng),
                          TokenEmbedding(tokens: patches, dimension: d, classToken: v.reading == .classToken, rng: &rng)]
            }
            let attention: [Layer] = [LayerNorm(features: d), linear(d, 3 * d, rng: &rng), SelfAttention(dimension: d, heads: v.heads),
                                      linear(d, d, rng: &rng)] + dropout(rng: &rng)
            var mlp: [Layer] = [LayerNorm(features: d), linear(d, v.mlpRatio * d, rng: &rng), Activation(.gelu)] + dropout(rng: &rng)
            mlp += [linear(v.mlpRatio * d, d, rng: &rng)] + dropout(rng: &rng)
            layers += [Residual(body: attention), Residual(body: mlp)]
            blocks.append(Block(name: "block\(index + 1)", layers: layers))
        }
        blocks.append(Block(name: "classifier", layers: [TokenPool(v.reading), LayerNorm(features: d), linear(d, classes, rng: &rng)]))
        return blocks
    }

    /// The ViT's parameters and per-sample activations, from the spec alone.
    static func vitFootprint(_ spec: String, fields: String, options: [String], inputShape: [Int], classes: Int) throws -> ModelFootprint {
        let v = try ViTSpec(spec, fields: fields, options: options)
        var footprint = ModelFootprint()
        let (patches, features) = try v.tokens(spec, inputShape)
        let p = ModelFootprint.product, s = ModelFootprint.sum
        let d = v.dimension, t = s(patches, v.reading == .classToken ? 1 : 0), hidden = p(v.mlpRatio, d)
        footprint.addLayer(parameters: s(p(features, d), p(s(t, 2), d)), outputs: p(p(2, patches), s(features, d)))
        // Per block: two LayerNorms, QKV, output projection, the MLP; kept per token: LN outputs, q/k/v,
        // attention output, projections, the MLP's hidden layer before and after GELU, the sums; H·T² probabilities.
        let weights = s(s(p(p(4, d), d), p(p(2, hidden), d)), s(p(9, d), hidden))
        let outputs = s(p(t, s(p(10, d), p(2, hidden))), p(v.heads, p(t, t)))
        for _ in 0..<v.depth {
            footprint.addLayer(parameters: weights, outputs: outputs)
            footprint.layers = s(footprint.layers, 3)
        }
        footprint.addLayer(parameters: s(p(d, classes), s(classes, p(2, d))), outputs: s(p(2, d), classes))
        return footprint
    }
}
