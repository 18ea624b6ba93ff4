import Foundation

/// Forward-Forward (Hinton, arXiv 2212.13345, 2022): every hidden layer learns on its own to give
/// positive data high goodness and negative data low goodness; no signal passes between layers.
///
/// - positive data: the flattened image with its first C entries replaced by the one-hot true label
///   (scaled to the batch's largest pixel); negative data: the same image with a wrong label drawn
///   uniformly from the other classes (§3.3, the supervised variant);
/// - each layer's input is normalised (§2.1: only the direction of the previous layer's activity
///   passes on) and detached;
/// - goodness: the logit of "positive" is Σh² − θ·width (θ = 1 per unit) and a layer's loss, averaged over
///   positive and negative rows, L = softplus(−logit⁺) + softplus(logit⁻) (the logistic p = σ(·) of Eq. 1);
/// - by default the choices of Hinton's Matlab code as Löwe's PyTorch reimplementation has them (1.47% /
///   1.45% test error): inputs divided by their root mean square, the ReLU's gradient passed unchanged
///   (`--ff-activation-gradient full`), a peer-normalisation loss of weight 0.03 keeping each unit's mean
///   activity near the layer's, SGD 1e-3 with momentum 0.9 and weight decay 3e-4 (the rule's recipe).
///   `Settings.paperText` (`--ff-goodness mean --ff-threshold 2 --ff-normalisation length
///   --ff-activation-gradient exact --ff-peer-normalisation 0`) is the reading of the paper's text this
///   rule started with: goodness the mean of h² against θ = 2, unit-length inputs (§2.1);
/// - prediction (§3.3): every label is embedded in turn and the label with the largest goodness
///   summed over the hidden layers wins (C forward passes per image); the paper accumulates all but
///   the first hidden layer (`--ff-score-layers all-but-first`): on 60-epoch 3×1000 MNIST weights here
///   98.38% against 98.36% with the defaults, 96.49% against 97.25% with `paperText`, so every layer
///   counts by default. The classifier block of
///   the model spec is not used and stays at its initial weights. Hard negatives are drawn from the
///   same scores.
///
/// The step's "training accuracy" is the fraction of samples whose summed goodness is larger with
/// the true label than with the drawn wrong one — the discrimination FF trains, not a C-way prediction.
public final class ForwardForward: LearningRule {
    /// How a sample's wrong label is drawn.
    public enum Negatives: String, Sendable, CaseIterable {
        /// Uniformly among the other classes.
        case random
        /// In proportion to softmax of the network's summed goodness for each wrong label (§3.3: the
        /// labels the network confuses most often make the most useful negative data); costs one
        /// evaluation pass per class per batch.
        case hard
    }

    /// Which hidden layers' goodness a prediction accumulates.
    public enum ScoreLayers: String, Sendable, CaseIterable {
        /// All but the first (§3.3), or the only one.
        case allButFirst = "all-but-first"
        case all
    }

    /// How a layer's activity becomes the logit of "positive".
    public enum Goodness: String, Sendable, CaseIterable {
        /// mean(h²) − θ: one threshold for every width.
        case mean
        /// Σ h² − θ·width: the same threshold per unit, the logit `width` times steeper (Hinton's Matlab
        /// code and its PyTorch reimplementation by Löwe, with θ = 1).
        case sum
    }

    /// What a layer's input is divided by.
    public enum Normalisation: String, Sendable, CaseIterable {
        /// Its length ‖x‖ (+10⁻⁴): unit vectors (§2.1).
        case length
        /// Its root mean square √mean(x²) (+10⁻⁸): units of activity ≈ 1 whatever the width (the Matlab code).
        case rms
    }

    /// The gradient through each hidden layer's activation.
    public enum ActivationGradient: String, Sendable, CaseIterable {
        /// The activation's own derivative.
        case exact
        /// Passed through unchanged, as if the activation were the identity (the reimplementation's
        /// `ReLU_full_grad`: units switched off by the ReLU still learn).
        case full
    }

    /// The defaults are the reference code's (Hinton's Matlab code as Löwe's PyTorch reimplementation
    /// has it: 98.36% on MNIST here); `paperText` is the reading of the paper's text this rule started with.
    public struct Settings: Sendable {
        /// θ, the goodness a layer separates positive from negative data at (per unit: mean of h²).
        public var threshold: Float = 1
        public var negatives = Negatives.random
        public var scoreLayers = ScoreLayers.all
        public var goodness = Goodness.sum
        public var normalisation = Normalisation.rms
        public var activationGradient = ActivationGradient.full
        /// Weight of the peer-normalisation loss (0: none): mean over units of (r̄ − r_j)², r_j a running
        /// mean (momentum 0.9, from 0.5) of unit j's activity on positive data — keeps every unit in use.
        public var peerNormalisation: Float = 0.03

        /// Mean goodness against θ = 2, unit-length inputs, the exact activation gradient, no peer
        /// normalisation: 97.25% on MNIST here (Adam 3e-2, hard negatives, 60 epochs).
        public static let paperText = Settings(threshold: 2, goodness: .mean, normalisation: .length,
                                               activationGradient: .exact, peerNormalisation: 0)

        public init(threshold: Float = 1, negatives: Negatives = .random, scoreLayers: ScoreLayers = .all,
                    goodness: Goodness = .sum, normalisation: Normalisation = .rms,
                    activationGradient: ActivationGradient = .full, peerNormalisation: Float = 0.03) {
            (self.threshold, self.negatives, self.scoreLayers) = (threshold, negatives, scoreLayers)
            (self.goodness, self.normalisation, self.activationGradient) = (goodness, normalisation, activationGradient)
            self.peerNormalisation = peerNormalisation
        }
    }

    public let settings: Settings
    private var labelGenerator: SeededGenerator
    /// Peer normalisation's running mean activity per hidden layer (created at the first step).
    var peerMeans: [[Float]] = []

    public init(_ settings: Settings = Settings(), seed: UInt64 = 1) {
        self.settings = settings
        labelGenerator = SeededGenerator(seed: seed ^ 0xF0_4A4D)
    }

    public var name: String { "ff" }

    public static var descriptor: RuleDescriptor {
        RuleDescriptor(name: "ff", summary: "Forward-Forward: layer-local goodness of positive (true label) over negative (wrong label) data",
                       defaults: Settings(), options: [
            .number("ff-threshold", \.threshold, help: "θ: the mean squared activity per unit at which a layer calls its input positive (1; 2 with --ff-goodness mean in the paper-text setting).",
                    requirement: "a positive number") { $0 > 0 },
            .choice("ff-negatives", \.negatives, help: "Wrong labels of the negative data: random (uniform over the other classes) or hard (drawn in proportion to the network's own softmax over goodness; one evaluation pass per class per batch)."),
            .choice("ff-score-layers", \.scoreLayers, help: "Hidden layers whose goodness a prediction accumulates: all, or all-but-first (the paper's §3.3; the only layer of a one-layer network)."),
            .choice("ff-goodness", \.goodness, help: "The logit of 'positive': mean (mean of h² − θ) or sum (Σh² − θ·width, the Matlab code's with θ = 1)."),
            .choice("ff-normalisation", \.normalisation, help: "Each layer's input divided by its length (length) or its root mean square (rms, the Matlab code's)."),
            .choice("ff-activation-gradient", \.activationGradient, help: "Through the hidden activation: exact, or full (passed unchanged, as the PyTorch reimplementation's ReLU_full_grad)."),
            .number("ff-peer-normalisation", \.peerNormalisation, help: "Weight of the peer-normalisation loss on each layer's mean activity (0: off; the reimplementation uses 0.03).",
                    requirement: "a number ≥ 0") { $0 >= 0 },
        ], recipe: RuleRecipe(optimizer: .sgd, learningRate: 1e-3, momentum: 0.9, weightDecay: 3e-4),
           // Runs saved before these options (2026-12-02) trained with the paper-text setting.
           legacyOptionValues: ["ff-goodness": "mean", "ff-normalisation": "length", "ff-activation-gradient": "exact",
                                "ff-peer-normalisation": "0"]) { settings, seed in
            ForwardForward(settings, seed: seed)
        }
    }

    public func unsupportedReason(for model: Model) -> String? {
        if case let .failure(.invalidSpec(_, reason)) = model.linearChain { return "Forward-Forward: \(reason)" }
        if model.blocks.count < 2 { return "the model has no hidden layer to train with goodness" }
        if model.inputShape.reduce(1, *) < model.classes { return "the input has fewer values than there are classes to embed" }
        return nil
    }

    /// Flattened `images` with the first `classes` values replaced by the one-hot `labels` times the batch's largest value.
    static func embedded(_ images: Tensor, labels: [Int32], classes: Int) -> Tensor {
        let rows = images.shape[0], width = images.count / max(rows, 1)
        let peak = images.withUnsafeBufferPointer { $0.max() ?? 1 }
        var scalars = images.reshaped([rows, width]).scalars
        for (row, label) in labels.enumerated() {
            for c in 0..<classes { scalars[row * width + c] = c == Int(label) ? peak : 0 }
        }
        return Tensor(shape: [rows, width], scalars: scalars)
    }

    /// Each row divided by its length (plus 10⁻⁴), or by its root mean square (plus 10⁻⁸).
    static func normalised(_ x: Tensor, _ normalisation: Normalisation = .length) -> Tensor {
        let rows = x.shape[0], width = x.count / max(rows, 1)
        return Tensor(uninitializedShape: [rows, width]) { out in
            x.withUnsafeBufferPointer { v in
                for row in 0..<rows {
                    let base = v.baseAddress! + row * width
                    let squares = VectorMath.dot(base, base, count: width)
                    let scale = normalisation == .length ? 1 / (squares.squareRoot() + 1e-4) : 1 / ((squares / Float(width)).squareRoot() + 1e-8)
                    for j in 0..<width { out[row * width + j] = base[j] * scale }
                }
            }
        }
    }

    /// Per-row mean of squares.
    static func goodness(_ h: Tensor) -> [Float] {
        let rows = h.shape[0], width = h.count / max(rows, 1)
        return h.withUnsafeBufferPointer { v in
            (0..<rows).map { VectorMath.dot(v.baseAddress! + $0 * width, v.baseAddress! + $0 * width, count: width) / Float(width) }
        }
    }

    /// s in logit = s·(mean(h²) − θ): 1 for the mean goodness, the layer's width for the sum.
    func steepness(width: Int) -> Float { settings.goodness == .sum ? Float(width) : 1 }

    static func softplus(_ x: Float) -> Float { x > 20 ? x : log1p(exp(x)) }
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// A wrong label per sample, drawn as `settings.negatives` says.
    func negativeLabels(model: Model, batch: Batch) -> [Int32] {
        let classes = model.classes
        guard settings.negatives == .hard else {
            return batch.labels.map { Int32((Int($0) + Int.random(in: 1..<classes, using: &labelGenerator)) % classes) }
        }
        let goodness = scores(model: model, images: batch.images)
        return goodness.withUnsafeBufferPointer { g in
            batch.labels.enumerated().map { row, label in
                let values = g.baseAddress! + row * classes
                var peak = -Float.infinity
                for c in 0..<classes where c != Int(label) { peak = max(peak, values[c]) }
                let weights = (0..<classes).map { $0 == Int(label) ? 0 : exp(values[$0] - peak) }
                let total = weights.reduce(0, +)
                var draw = Float(Double(labelGenerator.next() >> 11) / Double(1 << 53)) * total
                for c in 0..<classes {
                    draw -= weights[c]
                    if draw < 0, weights[c] > 0 { return Int32(c) }
                }
                return Int32((0..<classes).last { $0 != Int(label) }!)
            }
        }
    }

    public func step(model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics {
        let n = batch.count, classes = model.classes, theta = settings.threshold
        let wrong = negativeLabels(model: model, batch: batch)
        let positive = Self.embedded(batch.images, labels: batch.labels, classes: classes)
        let negative = Self.embedded(batch.images, labels: wrong, classes: classes)
        var x = Tensor(shape: [2 * n, positive.shape[1]], scalars: positive.scalars + negative.scalars)
        var summed = [Float](repeating: 0, count: 2 * n), totalLoss: Float = 0
        let hidden = model.blocks.dropLast()
        for (index, block) in hidden.enumerated() {
            let h = block.forward(Self.normalised(x, settings.normalisation), mode: .training)
            let g = Self.goodness(h)
            let width = h.count / (2 * n)
            // logit = s·(g − θ) with g the mean of h² and s = 1 (mean) or width (sum); ∂L/∂logit is −σ(−logit)
            // for positive rows, σ(logit) for negative ones; ∂logit/∂h = 2s·h/width; mean over the 2n rows.
            let scale = steepness(width: width)
            var slope = [Float](repeating: 0, count: 2 * n)
            for row in 0..<(2 * n) {
                let margin = (row < n ? -1 : 1) * scale * (g[row] - theta)
                totalLoss += Self.softplus(margin) / Float(2 * n)
                slope[row] = (row < n ? -1 : 1) * Self.sigmoid(margin) * 2 * scale / Float(width * 2 * n)
                summed[row] += g[row]
            }
            var gradient = Tensor(uninitializedShape: h.shape) { out in
                h.withUnsafeBufferPointer { v in
                    for row in 0..<(2 * n) { for j in 0..<width { out[row * width + j] = slope[row] * v[row * width + j] } }
                }
            }
            if settings.peerNormalisation > 0 { totalLoss += peerNormalise(h, layer: index, positives: n, gradient: &gradient) }
            model.memoryMeter?.sample(model, inFlight: [x, h, gradient])
            if settings.activationGradient == .full, block.layers.count > 1, block.layers.last is Activation {
                _ = block.backward(gradient, fromLayer: block.layers.count - 2, propagate: false)
            } else {
                _ = block.backward(gradient, propagate: false)
            }
            x = h
        }
        optimizer.update(hidden.flatMap(\.parameters))
        let discriminated = (0..<n).filter { summed[$0] > summed[n + $0] }.count
        return StepStatistics(loss: totalLoss / Float(hidden.count), correct: discriminated, count: n)
    }

    /// Peer normalisation of hidden layer `layer` (activity `h`, its first `positives` rows positive):
    /// updates the running means r ← 0.9·r + 0.1·mean(h⁺), adds the gradient of λ·mean_j (r̄ − r_j)² to
    /// `gradient` — ∂/∂h⁺[b, j] = λ·(−2/width)(r̄ − r_j)·0.1/positives, as Σ_j (r̄ − r_j) = 0 — and returns the loss.
    func peerNormalise(_ h: Tensor, layer: Int, positives n: Int, gradient: inout Tensor) -> Float {
        let width = h.count / (2 * n), lambda = settings.peerNormalisation
        while peerMeans.count <= layer { peerMeans.append([]) }
        if peerMeans[layer].count != width { peerMeans[layer] = [Float](repeating: 0.5, count: width) }
        h.withUnsafeBufferPointer { v in
            for j in 0..<width {
                var total: Float = 0
                for row in 0..<n { total += v[row * width + j] }
                peerMeans[layer][j] = 0.9 * peerMeans[layer][j] + 0.1 * total / Float(n)
            }
        }
        let means = peerMeans[layer], average = means.reduce(0, +) / Float(width)
        let loss = lambda * means.reduce(0) { $0 + (average - $1) * (average - $1) } / Float(width)
        gradient.withUnsafeMutableBufferPointer { out in
            for j in 0..<width {
                let push = lambda * -2 / Float(width) * (average - means[j]) * 0.1 / Float(n)
                for row in 0..<n { out[row * width + j] += push }
            }
        }
        return loss
    }

    /// Goodness accumulated over the scored hidden layers for every label embedded in turn: [N, classes].
    public func scores(model: Model, images: Tensor) -> Tensor {
        let n = images.shape[0], classes = model.classes, hidden = model.blocks.count - 1
        let firstScored = settings.scoreLayers == .allButFirst && hidden > 1 ? 1 : 0
        var scores = [Float](repeating: 0, count: n * classes)
        for c in 0..<classes {
            var x = Self.embedded(images, labels: [Int32](repeating: Int32(c), count: n), classes: classes)
            for (index, block) in model.blocks.dropLast().enumerated() {
                x = block.forward(Self.normalised(x, settings.normalisation), mode: .evaluation)
                guard index >= firstScored else { continue }
                let scale = steepness(width: x.count / n)
                for (row, g) in Self.goodness(x).enumerated() { scores[row * classes + c] += scale * g }
            }
        }
        return Tensor(shape: [n, classes], scalars: scores)
    }

    /// Forward: one pass (as every rule reports; prediction takes C of them); signal: the negative
    /// pass through the hidden layers; update: each hidden layer's outer products on both passes.
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        let hidden = model.layerMACs.filter { $0.block < model.blocks.count - 1 }
        let hiddenMACs = hidden.reduce(0) { $0 + $1.macs }
        return MACBreakdown(forward: model.forwardMACs, signal: hiddenMACs, update: 2 * hiddenMACs)
    }

    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] {
        var state: [String: Safetensors.Entry] = ["label_rng": .init(labelGenerator.stateWords)]
        for (index, means) in peerMeans.enumerated() where !means.isEmpty {
            state["\(model.blocks[index].name).peer_means"] = .init(Tensor(shape: [means.count], scalars: means))
        }
        return state
    }

    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {
        labelGenerator.stateWords = try file.generatorState("\(prefix)label_rng", path: path)
        peerMeans = []
        guard settings.peerNormalisation > 0 else { return }
        for block in model.blocks.dropLast() {
            let name = "\(prefix)\(block.name).peer_means"
            // A checkpoint saved before its first step holds none yet.
            peerMeans.append(file.tensors[name] == nil ? [] : try file.tensor(name, path: path).scalars)
        }
    }
}
