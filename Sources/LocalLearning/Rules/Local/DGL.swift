/// DGL — decoupled greedy learning (Belilovsky, Eickenberg & Oyallon, ICML 2020), as the AugLocal
/// reference code builds its heads: every hidden block (the stem, or one BasicBlock) trains greedily
/// on its detached input through a small auxiliary network with cross-entropy; the classifier trains
/// on the detached output of the last block; inference uses only the main network.
///
/// Head on a [C, S, S′] activation: adaptive average pool to ⌈S/4⌉, three 1×1 conv (no bias)→BN→ReLU
/// of width C, adaptive average pool to min(⌈S/4⌉, 2), flatten, two Linear (no bias)→BN→ReLU of width
/// 128, Linear to the classes. On a [F] activation: the two Linear→BN→ReLU and the last Linear.
public final class DGL: UnitLocalRule, RuleCosts, ModelRequirements, AuxiliaryNetworkRule {
    public let hiddenWidth: Int
    private let seed: UInt64
    public private(set) var heads: [AuxiliaryNetwork] = []

    public init(hiddenWidth: Int = 128, seed: UInt64 = 1) {
        self.hiddenWidth = hiddenWidth
        self.seed = seed
    }

    public var name: String { "dgl" }

    public func unsupportedReason(for model: Model) -> String? {
        model.blocks.count < 2 ? "the model has no hidden block to train with a local loss" : nil
    }

    static func head(for shape: [Int], classes: Int, width: Int, rng: inout SeededGenerator) -> AuxiliaryNetwork {
        var layers: [Layer] = []
        var features = shape.reduce(1, *)
        if shape.count == 3 {
            let c = shape[0], first = (shape[1] + 3) / 4, second = min(first, 2)
            layers.append(AdaptiveAvgPool2D(first))
            for _ in 0..<3 {
                layers += [Conv2D(c, c, kernelSize: 1, bias: false, rng: &rng), BatchNorm(channels: c), Activation(.relu)]
            }
            layers += [AdaptiveAvgPool2D(second), Flatten()]
            features = c * second * second
        } else {
            layers.append(Flatten())
        }
        for _ in 0..<2 {
            layers += [Linear(features, width, bias: false, rng: &rng), BatchNorm(channels: width), Activation(.relu)]
            features = width
        }
        layers.append(Linear(features, classes, rng: &rng))
        return AuxiliaryNetwork(layers: layers)
    }

    public func prepare(_ model: Model) {
        guard heads.isEmpty else { return }
        var rng = SeededGenerator(seed: seed ^ 0xD6_1000)
        heads = SignalTap.hiddenShapes(of: model).map { Self.head(for: $0, classes: model.classes, width: hiddenWidth, rng: &rng) }
    }

    public func unitLoss(block: Int, activation: Tensor, labels: [Int32], state: inout LocalStepState, model: Model) -> (LossResult, [Parameter]) {
        (heads[block].lossAndGradient(activation, labels: labels, model: model), heads[block].parameters)
    }

    /// Signal: each head's forward and backward (≈ 3× its forward MACs, its own update included).
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        prepare(model)
        let signal = zip(heads, SignalTap.hiddenShapes(of: model)).reduce(0) { $0 + 3 * $1.0.forwardMACs(inputShape: $1.1) }
        return MACBreakdown(forward: model.forwardMACs, signal: signal, update: model.weightGradientMACs)
    }

    /// The heads' parameters and gradients.
    public func stateBytes(_ model: Model) -> Int {
        prepare(model)
        return heads.reduce(0) { $0 + 2 * $1.parameterCount * MemoryLayout<Float>.stride }
    }

    var networks: [AuxiliaryNetwork] { heads }
}
