#if canImport(Glibc)
import Glibc
#endif

/// AugLocal (Ma et al., ICLR 2024), as its reference code builds it, for networks whose hidden blocks
/// are convolutional units (the stem and the BasicBlocks of a ResNet):
///
/// - with K units and auxiliary depth d, units 0…K′−2 (K′ = K − d) each train through their own
///   auxiliary network with cross-entropy, on a detached input; the last d+1 units and the classifier
///   train end to end by the output loss;
/// - unit l's auxiliary network is freshly initialised BasicBlocks copying the widths of uniformly
///   sampled later units — indices round(l + (K−l−1)/d_l·i), i = 1…d_l, rounding halves to even as
///   Python does (all later units when d_l ≥ K−1−l) — with a stride-2 block and a 1×1 shortcut where
///   the width doubles (a skipped downsample deferred to the next sampled block), then global average
///   pool, BatchNorm when d_l ≤ 1, and a linear classifier;
/// - pyramidal depth: d_l = max(1, round(d·(1 − l·τ/(K′−2)) + l·τ/(K′−2)));
/// - the auxiliary networks' convolutions are drawn N(0, 2/(k²·out)), as the reference initialises
///   every convolution (the main network's follow `--initializer`, whose default for this rule is the same).
public final class AugLocal: UnitLocalRule, AuxiliaryNetworkRule {
    public let depth: Int
    public let pyramid: Float
    private let seed: UInt64
    public private(set) var auxiliaries: [AuxiliaryNetwork] = []
    /// The later units each auxiliary network copies.
    public private(set) var sampledUnits: [[Int]] = []

    public init(depth: Int = 2, pyramid: Float = 0.5, seed: UInt64 = 1) {
        precondition(depth >= 1 && pyramid >= 0 && pyramid <= 1, "AugLocal needs depth ≥ 1 and 0 ≤ τ ≤ 1")
        self.depth = depth
        self.pyramid = pyramid
        self.seed = seed
    }

    public var name: String { "auglocal" }

    /// Python's round: halves to even.
    static func round(_ x: Double) -> Int { Int(x.rounded(.toNearestOrEven)) }

    /// d_l for local units l = 0…K′−2.
    public static func depthSchedule(units k: Int, depth d: Int, pyramid tau: Double) -> [Int] {
        let localCount = k - d - 1
        guard localCount > 0 else { return [] }
        return (0..<localCount).map { i in
            guard localCount > 1 else { return d }
            let t = Double(i) * tau / Double(localCount - 1)
            return max(1, round(Double(d) * (1 - t) + t))
        }
    }

    /// The later units copied into unit l's auxiliary network of depth d_l, out of k units.
    public static func sampledUnits(layer l: Int, depth dl: Int, units k: Int) -> [Int] {
        if dl >= k - 1 - l { return Array((l + 1)..<k) }
        return (1...dl).map { round(Double(l) + Double(k - l - 1) / Double(dl) * Double($0)) }
    }

    public func unsupportedReason(for model: Model) -> String? {
        let shapes = model.blockOutputShapes.dropLast()
        guard shapes.allSatisfy({ $0.count == 3 }) else {
            return "AugLocal builds its auxiliary networks from convolutional units; every hidden block must output [C, H, W]"
        }
        guard shapes.count - depth - 1 >= 1 else { return "\(shapes.count) units leave none to train locally with depth \(depth)" }
        return nil
    }

    public func prepare(_ model: Model) {
        guard auxiliaries.isEmpty, unsupportedReason(for: model) == nil else { return }
        var rng = SeededGenerator(seed: seed ^ 0xA06_10CA)
        let shapes = Array(model.blockOutputShapes.dropLast())
        let k = shapes.count
        for (l, dl) in Self.depthSchedule(units: k, depth: depth, pyramid: Double(pyramid)).enumerated() {
            let sampled = Self.sampledUnits(layer: l, depth: dl, units: k)
            var layers: [Layer] = []
            var width = shapes[l][0]
            var pending = 0.0
            for unit in sampled {
                let next = shapes[unit][0]
                pending += log2(Double(next) / Double(width))
                var stride = 1
                if pending >= 1 { stride = 2; pending -= 1 }
                let he = Initializer.heNormalConvolutions
                let body: [Layer] = [Conv2D(width, next, kernelSize: 3, stride: stride, padding: 1, bias: false, initializer: he, rng: &rng),
                                     BatchNorm(channels: next), Activation(.relu),
                                     Conv2D(next, next, kernelSize: 3, padding: 1, bias: false, initializer: he, rng: &rng),
                                     BatchNorm(channels: next)]
                let shortcut: [Layer] = stride != 1 || next != width
                    ? [Conv2D(width, next, kernelSize: 1, stride: stride, bias: false, initializer: he, rng: &rng), BatchNorm(channels: next)] : []
                layers += [Residual(body: body, shortcut: shortcut), Activation(.relu)]
                width = next
            }
            layers += [AdaptiveAvgPool2D(1), Flatten()]
            if dl <= 1 { layers.append(BatchNorm(channels: width)) }
            layers.append(Linear(width, model.classes, rng: &rng))
            auxiliaries.append(AuxiliaryNetwork(layers: layers))
            sampledUnits.append(sampled)
        }
    }

    public var globalTail: Int { depth + 1 }

    public func unitLoss(block: Int, activation: Tensor, labels: [Int32], state: inout LocalStepState, model: Model) -> (LossResult, [Parameter]) {
        (auxiliaries[block].lossAndGradient(activation, labels: labels, model: model), auxiliaries[block].parameters)
    }

    /// Signal: each auxiliary network's forward and backward (≈ 3× its forward MACs) plus backprop
    /// through the globally trained top units.
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        prepare(model)
        let shapes = SignalTap.lossShapes(of: model)
        let auxiliary = zip(auxiliaries, shapes).reduce(0) { $0 + 3 * $1.0.forwardMACs(inputShape: $1.1) }
        return MACBreakdown(forward: model.forwardMACs, signal: auxiliary + globalTailSignalMACs(model), update: model.weightGradientMACs)
    }

    /// The auxiliary networks' parameters and gradients.
    public func stateBytes(_ model: Model) -> Int {
        prepare(model)
        return auxiliaries.reduce(0) { $0 + 2 * $1.parameterCount * MemoryLayout<Float>.stride }
    }

    var networks: [AuxiliaryNetwork] { auxiliaries }
}

extension AugLocal {
    public struct Settings: Sendable {
        public var depth = 2
        public var pyramid: Float = 0.5
    }

    public static var descriptor: RuleDescriptor {
        RuleDescriptor(name: "auglocal", summary: "each unit trains through an auxiliary network sampled from the later units (pyramidal depth)",
                       defaults: Settings(), options: [
            .integer("aux-depth", \.depth, help: "Auxiliary depth d (later units copied into each auxiliary network).", range: 1...1000),
            .number("pyramid", \.pyramid, help: "Pyramid coefficient τ (auxiliary depth falls linearly from d to d(1−τ)+τ).",
                    requirement: "in [0, 1]") { $0 >= 0 && $0 <= 1 },
        ], initializer: .heNormalConvolutions, diagnoseInComparisons: true) { settings, seed in
            AugLocal(depth: settings.depth, pyramid: settings.pyramid, seed: seed)
        }
    }
}
