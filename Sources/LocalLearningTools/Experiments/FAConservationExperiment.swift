import Foundation
import LocalLearning

/// The noisy-MNIST experiment of "Implicit Regularization in Feedback Alignment Learning Mechanisms
/// for Neural Networks" (Robertson & Koyejo, ICML 2024, Sec. 6.1 and App. A): two-layer leaky-ReLU
/// networks of several widths, trained full-batch with cross-entropy on a random MNIST subset with a
/// fraction of its training labels changed (the test set stays clean), under BP and FA variants.
///
/// Differences from the paper, chosen to fit 2 cores and to test the law as stated: plain SGD
/// (the paper: momentum 0.05), 3,000 full-batch steps with the rate divided by 10 every 1,000 as in
/// the paper (which runs 6,000, whose last half moves the weights little at rates ≤ 5e-5),
/// PyTorch's default initialisation, one seed.
/// A changed label is drawn uniformly from the other nine classes, so exactly `labelNoise` of the
/// subset is wrong.
public enum FAConservationExperiment {
    public struct Configuration: Sendable, Codable {
        public var samples = 4000
        public var labelNoise: Float = 0.2
        public var widths = [15, 50, 200]
        public var rules = ["bp", "fa", "adafa", "signfa"]
        public var epochs = 3000
        public var learningRate: Float = 0.05
        public var decayEvery = 1000
        public var seed: UInt64 = 1

        public init() {}
    }

    public struct Row: Sendable, Codable {
        public var rule: String
        public var width: Int
        /// Final accuracy on the (noisy) training labels.
        public var trainAccuracy: Double
        public var testAccuracy: Double
        /// Angle between the output layer's W and its feedback B (0 for BP, where B = W).
        public var lastLayerFeedbackAngle: Double?
        /// Angle between the hidden layer's update and the true gradient on the full batch.
        public var hiddenUpdateAngle: Double?
        /// mean_i |Q_i(T) − Q_i(0)| / mean_i(|½‖w_in‖²| + |⟨w_out, b⟩|) at the start (ConservationLaw.Tracker).
        public var conservationDrift: Double
        /// |R − 1| with R = Δ(Σ_i ½‖w_in,i‖²) / Δ(Σ_i ⟨w_out,i, b_i⟩) over the run (1 under gradient flow).
        public var ratioDeviation: Double
        public var seconds: Double
    }

    /// A random `samples`-subset of `train` whose first ⌊noise·samples⌋ (in subset order) labels are
    /// changed to another class; returns it with its clean labels.
    public static func noisySubset(_ train: Dataset, samples: Int, noise: Float, seed: UInt64) -> (Dataset, [Int32]) {
        var rng = SeededGenerator(seed: seed ^ 0x4015_E000)
        let order = rng.permutation(train.count).prefix(samples)
        let per = train.sampleShape.reduce(1, *)
        var images = [Float](), clean = [Int32](), noisy = [Int32]()
        images.reserveCapacity(samples * per)
        for (position, index) in order.enumerated() {
            let i = Int(index)
            images += train.images.scalars[(i * per)..<((i + 1) * per)]
            let label = train.labels[i]
            clean.append(label)
            if position < Int(noise * Float(samples)) {
                let shift = Int32(1 + rng.nextInt(below: train.classes - 1))
                noisy.append((label + shift) % Int32(train.classes))
            } else {
                noisy.append(label)
            }
        }
        let subset = Dataset(name: "\(train.name)-noisy\(samples)", images: Tensor(shape: [order.count] + train.sampleShape, scalars: images),
                             labels: noisy, classes: train.classes)
        return (subset, clean)
    }

    /// Runs every (rule, width) pair; `progress` receives each finished row.
    public static func run(_ configuration: Configuration, train: Dataset, test: Dataset,
                           progress: (Row) -> Void = { _ in }) throws -> [Row] {
        let (subset, _) = noisySubset(train, samples: configuration.samples, noise: configuration.labelNoise, seed: configuration.seed)
        let batch = Batch(images: subset.images, labels: subset.labels)
        let inputs = train.sampleShape.reduce(1, *)
        var rows: [Row] = []
        for width in configuration.widths {
            for name in configuration.rules {
                guard let rule = RuleRegistry.make(name, seed: configuration.seed) else {
                    throw ModelError.invalidSpec(spec: name, reason: "unknown rule; expected one of \(RuleRegistry.help)")
                }
                let start = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
                let model = try ModelSpec.build("mlp:\(inputs)-\(width)-\(train.classes):leakyrelu", inputShape: train.sampleShape,
                                                classes: train.classes, seed: configuration.seed)
                try rule.checkCanTrain(model)
                let view = rule.feedbackView(model)
                let feedback: (Linear) -> Tensor? = { layer in view?.feedback(layer) }
                let tracker = ConservationLaw.Tracker(model: model, feedback: feedback)
                let pair = ConservationLaw.pairs(model)[0]
                let before = ConservationLaw.terms(pair, feedback: feedback(pair.outgoing))
                let optimizer = SGD(learningRate: configuration.learningRate)
                let decayEvery = max(1, configuration.decayEvery)
                for epoch in 0..<configuration.epochs {
                    optimizer.learningRate = configuration.learningRate * powf(0.1, Float(epoch / decayEvery))
                    let stats = rule.step(model: model, batch: batch, optimizer: optimizer)
                    guard stats.loss.isFinite else {
                        throw TrainingError.nonFiniteLoss(rule: name, epoch: epoch + 1, step: 1, loss: stats.loss)
                    }
                }
                let after = ConservationLaw.terms(pair, feedback: feedback(pair.outgoing))
                let numerator = after.incoming.reduce(0, +) - before.incoming.reduce(0, +)
                let denominator = after.outgoing.reduce(0, +) - before.outgoing.reduce(0, +)
                let output = model.weightedLayers.last!
                let row = Row(
                    rule: name, width: width,
                    trainAccuracy: Evaluation.evaluate(model, on: subset, batchSize: 1000).accuracy,
                    testAccuracy: Evaluation.evaluate(model, on: test, batchSize: 1000).accuracy,
                    lastLayerFeedbackAngle: view?.feedback(output).map { UpdateAlignment.angle(output.weight.value, $0) } ?? 0,
                    hiddenUpdateAngle: UpdateAlignment.measure(rule: rule, model: model, batch: batch).first?.degrees,
                    conservationDrift: tracker.deviations()[0],
                    ratioDeviation: abs(numerator / denominator - 1),
                    seconds: Double(DispatchTime.now().uptimeNanoseconds) / 1e9 - start)
                rows.append(row)
                progress(row)
            }
        }
        return rows
    }

    /// The rows as a Markdown table.
    public static func markdown(_ rows: [Row]) -> String {
        func f(_ v: Double?, _ format: String) -> String { v.map { String(format: format, $0) } ?? "–" }
        var lines = ["| width | rule | train acc (noisy labels) | test acc | W∠B output layer | hidden update ∠ gradient | conservation drift | abs(R − 1) |",
                     "|---:|---|---:|---:|---:|---:|---:|---:|"]
        for r in rows {
            lines.append("| \(r.width) | \(r.rule) | \(f(r.trainAccuracy * 100, "%.2f%%")) | \(f(r.testAccuracy * 100, "%.2f%%")) | "
                + "\(f(r.lastLayerFeedbackAngle, "%.1f°")) | \(f(r.hiddenUpdateAngle, "%.1f°")) | \(f(r.conservationDrift, "%.2e")) | \(f(r.ratioDeviation, "%.2e")) |")
        }
        return lines.joined(separator: "\n")
    }
}
