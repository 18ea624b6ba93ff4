/// The conservation law of feedback alignment ("Implicit Regularization in Feedback Alignment
/// Learning Mechanisms for Neural Networks", ICML 2024) for networks with (leaky-)ReLU activations.
///
/// For hidden neuron i of a Linear layer l followed (through elementwise layers only) by Linear
/// layer l+1 with feedback B (B = W for backprop's balance law), with w_in = (W_l[i,:], b_l[i]),
/// w_out = W_{l+1}[:,i] and b = B_{l+1}[:,i]:
///   Q_i = ½‖w_in‖² − ⟨w_out, b⟩   (backprop: ½‖w_in‖² − ½‖w_out‖²)
/// is constant under gradient flow. With plain SGD each step obeys
///   ½Δ‖w_in‖² − ½‖Δw_in‖² = Δ⟨w_out, b⟩,
/// so Q drifts only by the ½‖Δw_in‖² of finite steps; momentum, weight decay, non-homogeneous
/// activations (tanh) or moving feedback (sign-FA) move it further.
public enum ConservationLaw {
    /// A hidden Linear layer and the next Linear layer, with only elementwise layers between them.
    public struct Pair {
        public let incoming: Linear
        public let outgoing: Linear
        /// The two layers' block names, e.g. `fc2→fc3` (unique within a model).
        public let name: String
    }

    /// The pairs of `model` the law is stated for (none across BatchNorm, pooling or convolutions).
    public static func pairs(_ model: Model) -> [Pair] {
        var result: [Pair] = []
        var previous: (layer: Linear, block: String)?
        for block in model.blocks {
            for layer in block.layers {
                if let linear = layer as? Linear {
                    if let previous {
                        result.append(Pair(incoming: previous.layer, outgoing: linear, name: "\(previous.block)→\(block.name)"))
                    }
                    previous = (linear, block.name)
                } else if !(layer is Activation || layer is Dropout || layer is Flatten) {
                    previous = nil
                }
            }
        }
        return result
    }

    /// The two terms per hidden neuron: ½‖w_in‖² and ⟨w_out, b⟩ (or ½‖w_out‖² when `feedback` is nil: backprop).
    public static func terms(_ pair: Pair, feedback: Tensor?) -> (incoming: [Double], outgoing: [Double]) {
        let w = pair.incoming.weight.value, bias = pair.incoming.bias?.value, v = pair.outgoing.weight.value
        let (hidden, inputs, outputs) = (pair.incoming.outputSize, pair.incoming.inputSize, pair.outgoing.outputSize)
        var incoming = [Double](repeating: 0, count: hidden), outgoing = [Double](repeating: 0, count: hidden)
        for i in 0..<hidden {
            var s = 0.0
            for j in 0..<inputs { s += Double(w[i * inputs + j]) * Double(w[i * inputs + j]) }
            if let bias { s += Double(bias[i]) * Double(bias[i]) }
            incoming[i] = s / 2
            var o = 0.0
            for k in 0..<outputs {
                let out = Double(v[k * hidden + i])
                o += feedback.map { out * Double($0[k * hidden + i]) } ?? out * out / 2
            }
            outgoing[i] = o
        }
        return (incoming, outgoing)
    }

    /// Remembers Q at a starting point and reports, per pair, how far it has drifted:
    /// mean_i |Q_i − Q_i(start)| / mean_i (|½‖w_in‖²| + |⟨w_out, b⟩|) at the start.
    public final class Tracker {
        private let pairs: [Pair]
        private let feedback: (Linear) -> Tensor?
        private var start: [[Double]] = []
        private var scale: [Double] = []

        /// `feedback(outgoing)` gives B for the rule being tracked, or nil for backprop's balance law.
        public init(model: Model, feedback: @escaping (Linear) -> Tensor?) {
            pairs = ConservationLaw.pairs(model)
            self.feedback = feedback
            for pair in pairs {
                let (a, b) = ConservationLaw.terms(pair, feedback: feedback(pair.outgoing))
                start.append(zip(a, b).map { $0 - $1 })
                scale.append(zip(a, b).map { abs($0) + abs($1) }.reduce(0, +) / Double(max(a.count, 1)))
            }
        }

        /// The pairs' names, in forward order (unique within a model).
        public var layers: [String] { pairs.map(\.name) }

        public func deviations() -> [Double] {
            pairs.indices.map { p in
                let (a, b) = ConservationLaw.terms(pairs[p], feedback: feedback(pairs[p].outgoing))
                let drift = zip(zip(a, b).map { $0 - $1 }, start[p]).map { abs($0 - $1) }.reduce(0, +) / Double(max(a.count, 1))
                return drift / max(scale[p], .leastNonzeroMagnitude)
            }
        }
    }
}
