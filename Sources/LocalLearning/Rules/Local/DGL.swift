/// DGL — decoupled greedy learning (Belilovsky, Eickenberg & Oyallon, ICML 2020), as the AugLocal
/// reference code builds it (`networks/auxiliary_nets.py`, `resnet.py`): every hidden block but the
/// last (the stem, or one BasicBlock) trains greedily on its detached input through a small auxiliary
/// network with cross-entropy; the last hidden block and the classifier train together by the
/// network's output loss on the detached input of that block (K units give K − 1 local modules);
/// inference uses only the main network.
///
/// Head on a [C, S, S′] activation: adaptive average pool to ⌈S/4⌉, three 1×1 conv (no bias)→BN→ReLU
/// of width C, adaptive average pool to s = min(⌈S/4⌉, 2), flatten (C·s² features), two Linear (no
/// bias)→BN→ReLU of width C·s² (64/128/256 for 16/32/64 channels on CIFAR), Linear to the classes.
/// On a [F] activation: the two Linear→BN→ReLU of width F and the last Linear. The heads' convolutions
/// are drawn N(0, 2/(k²·out)) as the reference initialises every convolution.
public final class DGL: UnitLocalRule, AuxiliaryNetworkRule {
    /// Width of the heads' hidden linear layers; nil: the reference's, the flattened feature count.
    public let hiddenWidth: Int?
    private let seed: UInt64
    public private(set) var heads: [AuxiliaryNetwork] = []

    public init(hiddenWidth: Int? = nil, seed: UInt64 = 1) {
        self.hiddenWidth = hiddenWidth
        self.seed = seed
    }

    public var name: String { "dgl" }

    /// The last hidden block trains with the classifier, by the output loss.
    public var globalTail: Int { 1 }

    public func unsupportedReason(for model: Model) -> String? {
        model.blocks.count < 3 ? "DGL trains every hidden block but the last with a local loss; the model needs two hidden blocks" : nil
    }

    static func head(for shape: [Int], classes: Int, width: Int?, rng: inout SeededGenerator) -> AuxiliaryNetwork {
        var layers: [Layer] = []
        var features = shape.reduce(1, *)
        if shape.count == 3 {
            let c = shape[0], first = (shape[1] + 3) / 4, second = min(first, 2)
            layers.append(AdaptiveAvgPool2D(first))
            for _ in 0..<3 {
                layers += [Conv2D(c, c, kernelSize: 1, bias: false, initializer: .heNormalConvolutions, rng: &rng),
                           BatchNorm(channels: c), Activation(.relu)]
            }
            layers += [AdaptiveAvgPool2D(second), Flatten()]
            features = c * second * second
        } else {
            layers.append(Flatten())
        }
        let hidden = width ?? features
        for _ in 0..<2 {
            layers += [Linear(features, hidden, bias: false, rng: &rng), BatchNorm(channels: hidden), Activation(.relu)]
            features = hidden
        }
        layers.append(Linear(features, classes, rng: &rng))
        return AuxiliaryNetwork(layers: layers)
    }

    public func prepare(_ model: Model) {
        guard heads.isEmpty else { return }
        var rng = SeededGenerator(seed: seed ^ 0xD6_1000)
        heads = localShapes(model).map { Self.head(for: $0, classes: model.classes, width: hiddenWidth, rng: &rng) }
    }

    /// Output shapes of the hidden blocks that train locally (all but the last).
    func localShapes(_ model: Model) -> [[Int]] { Array(SignalTap.lossShapes(of: model).dropLast(globalTail)) }

    public func unitLoss(block: Int, activation: Tensor, labels: [Int32], state: inout LocalStepState, model: Model) -> (LossResult, [Parameter]) {
        (heads[block].lossAndGradient(activation, labels: labels, model: model), heads[block].parameters)
    }

    /// Signal: each head's forward and backward (≈ 3× its forward MACs, its own update included),
    /// plus backprop from the output through the last hidden block.
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        prepare(model)
        let heads = zip(self.heads, localShapes(model)).reduce(0) { $0 + 3 * $1.0.forwardMACs(inputShape: $1.1) }
        return MACBreakdown(forward: model.forwardMACs, signal: heads + globalTailSignalMACs(model), update: model.weightGradientMACs)
    }

    /// The heads' parameters and gradients.
    public func stateBytes(_ model: Model) -> Int {
        prepare(model)
        return heads.reduce(0) { $0 + 2 * $1.parameterCount * MemoryLayout<Float>.stride }
    }

    var networks: [AuxiliaryNetwork] { heads }
}

extension DGL {
    public static var descriptor: RuleDescriptor {
        RuleDescriptor(name: "dgl", summary: "decoupled greedy learning: each unit trains through its own auxiliary network",
                       defaults: (), initializer: .heNormalConvolutions, diagnoseInComparisons: true) { _, seed in DGL(seed: seed) }
    }
}
