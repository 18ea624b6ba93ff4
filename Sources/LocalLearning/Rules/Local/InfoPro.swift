import Foundation

/// InfoPro — information propagation (Wang, Ni, Song, Yang & Huang, ICLR 2021), as the AugLocal
/// reference code builds it for its baselines: every unit but the last trains greedily on its
/// detached input with L_l = λ1_l·L_recon + λ2_l·L_CE; the last hidden unit trains with the
/// classifier by the output loss (as DGL):
///
/// - L_CE (the task-relevant information, I(h, y)): a head conv3×3 (width min(2C, 64), stride 2 below
///   64 channels) → BatchNorm → ReLU → global average pool → Linear 128 → ReLU → Linear to the classes;
/// - L_recon (keeping I(h, x), Eq. 6's reconstruction bound): a decoder — bilinear upsampling to the
///   input's size, conv3×3 to 12 → BatchNorm → ReLU, conv3×3 to the input's channels — and binary
///   cross-entropy of its sigmoid against the input image, rescaled to [0, 1] by the batch's minimum
///   and maximum (the image itself when it is not standardised; the reference uses the
///   un-normalised image);
/// - λ moves linearly from (λ1, λ2) = (5, 0.05) at the first unit to (0.2, 0.5) at the last local
///   one (the reference's ResNet-32 values).
///
/// Fully connected blocks get a Linear 128 → ReLU → Linear head and a Linear decoder to the input
/// (this project's extension). Prediction is the plain forward pass.
public final class InfoPro: UnitLocalRule {
    private let seed: UInt64
    /// Per local unit: the classification head and the decoder (its last layer outputs logits of the image).
    public private(set) var heads: [AuxiliaryNetwork] = []
    public private(set) var decoders: [[Layer]] = []

    public init(seed: UInt64 = 1) { self.seed = seed }

    public var name: String { "infopro" }

    public static var descriptor: RuleDescriptor {
        RuleDescriptor(name: "infopro", summary: "each unit keeps task information (cross-entropy head) and input information (reconstruction decoder)",
                       defaults: (), initializer: .heNormalConvolutions, diagnoseInComparisons: true) { _, seed in InfoPro(seed: seed) }
    }

    /// The last hidden unit trains with the classifier, by the output loss.
    public var globalTail: Int { 1 }

    public func unsupportedReason(for model: Model) -> String? {
        model.blocks.count < 3 ? "InfoPro trains every hidden block but the last with a local loss; the model needs two hidden blocks" : nil
    }

    /// (λ1, λ2) of local unit `index` of `count`.
    static func weights(_ index: Int, of count: Int) -> (reconstruction: Float, task: Float) {
        let t = count > 1 ? Float(index) / Float(count - 1) : 0
        return (5 + (0.2 - 5) * t, 0.05 + (0.5 - 0.05) * t)
    }

    public func prepare(_ model: Model) {
        guard heads.isEmpty else { return }
        var rng = SeededGenerator(seed: seed ^ 0x1_F0_9E0)
        let image = model.inputShape
        for shape in SignalTap.lossShapes(of: model).dropLast(globalTail) {
            if shape.count == 3, image.count == 3 {
                let c = shape[0], width = min(2 * c, 64)
                heads.append(AuxiliaryNetwork(layers: [
                    Conv2D(c, width, kernelSize: 3, stride: c < 64 ? 2 : 1, padding: 1, bias: false, initializer: .heNormalConvolutions, rng: &rng),
                    BatchNorm(channels: width), Activation(.relu), AdaptiveAvgPool2D(1), Flatten(),
                    Linear(width, 128, rng: &rng), Activation(.relu), Linear(128, model.classes, rng: &rng),
                ]))
                decoders.append([
                    BilinearUpsample(height: image[1], width: image[2]),
                    Conv2D(c, 12, kernelSize: 3, padding: 1, bias: false, initializer: .heNormalConvolutions, rng: &rng),
                    BatchNorm(channels: 12), Activation(.relu),
                    Conv2D(12, image[0], kernelSize: 3, padding: 1, bias: false, initializer: .heNormalConvolutions, rng: &rng),
                ])
            } else {
                let features = shape.reduce(1, *)
                heads.append(AuxiliaryNetwork(layers: [Flatten(), Linear(features, 128, rng: &rng), Activation(.relu),
                                                       Linear(128, model.classes, rng: &rng)]))
                decoders.append([Flatten(), Linear(features, image.reduce(1, *), rng: &rng)])
            }
        }
    }

    /// Keeps the step's images (the reconstruction target) for the units.
    public func beginStep(_ batch: Batch, model: Model) -> LocalStepState {
        var state = LocalStepState()
        state.tensors[-1] = batch.images
        return state
    }

    /// Mean binary cross-entropy of sigmoid(`logits`) against `image` rescaled to [0, 1], and its gradient.
    static func reconstructionLoss(_ logits: Tensor, image: Tensor) -> (loss: Float, gradient: Tensor) {
        let (low, high) = image.withUnsafeBufferPointer { ($0.min() ?? 0, $0.max() ?? 1) }
        let span = max(high - low, 1e-12), count = Float(logits.count)
        var loss: Float = 0
        let gradient = Tensor(uninitializedShape: logits.shape) { out in
            for i in 0..<logits.count {
                let (z, t) = (logits.scalars[i], (image.scalars[i] - low) / span)
                loss += (max(z, 0) - z * t + log1p(exp(-abs(z)))) / count
                out[i] = (1 / (1 + exp(-z)) - t) / count
            }
        }
        return (loss, gradient)
    }

    public func unitLoss(block: Int, activation: Tensor, labels: [Int32], state: inout LocalStepState, model: Model) -> (LossResult, [Parameter]) {
        let (lambdaReconstruction, lambdaTask) = Self.weights(block, of: heads.count)
        let task = heads[block].lossAndGradient(activation, labels: labels, model: model)
        let decoder = decoders[block]
        let image = state.tensors[-1]!
        let logits = decoder.reduce(activation) { $1.forward($0, mode: .training) }
        let (reconstruction, gradient) = Self.reconstructionLoss(logits, image: image.reshaped(logits.shape))
        let decoded = LayerChain.backward(decoder, gradient, propagate: true)!
        model.memoryMeter?.sample(model, extraLayers: decoder, inFlight: [activation, logits, decoded])
        decoder.forEach { $0.releaseHeld() }
        for parameter in heads[block].parameters { parameter.gradient = parameter.gradient.mapped { $0 * lambdaTask } }
        let decoderParameters = decoder.flatMap(\.parameters)
        for parameter in decoderParameters { parameter.gradient = parameter.gradient.mapped { $0 * lambdaReconstruction } }
        let signal = Tensor.zip(task.gradient, decoded.reshaped(task.gradient.shape)) { lambdaTask * $0 + lambdaReconstruction * $1 }
        return (LossResult(loss: lambdaTask * task.loss + lambdaReconstruction * reconstruction, gradient: signal, correct: task.correct),
                heads[block].parameters + decoderParameters)
    }

    /// Signal: each head's and decoder's forward and backward (≈ 3× their forward MACs), plus
    /// backprop from the output through the last hidden unit.
    public func macsPerSample(_ model: Model) -> MACBreakdown {
        prepare(model)
        let shapes = SignalTap.lossShapes(of: model)
        let local = heads.indices.reduce(0) { total, index in
            total + 3 * (heads[index].forwardMACs(inputShape: shapes[index]) + AuxiliaryNetwork.forwardMACs(of: decoders[index], inputShape: shapes[index]))
        }
        return MACBreakdown(forward: model.forwardMACs, signal: local + globalTailSignalMACs(model), update: model.weightGradientMACs)
    }

    /// Each unit's head and decoder layers, named `<block>.head.…` and `<block>.decoder.…`.
    func namedLayers(_ model: Model) -> [(name: String, layer: Layer)] {
        prepare(model)
        return heads.indices.flatMap { index in
            Model.named(heads[index].layers, prefix: "\(model.blocks[index].name).head")
                + Model.named(decoders[index], prefix: "\(model.blocks[index].name).decoder")
        }
    }

    public func ownParameters(_ model: Model) -> [(name: String, parameter: Parameter)] {
        namedLayers(model).flatMap { name, layer in layer.parameters.map { ("\(name).\($0.name)", $0) } }
    }

    public func checkpointState(_ model: Model) -> [String: Safetensors.Entry] { BatchNorm.runningStatistics(of: namedLayers(model)) }

    public func restoreState(_ file: Safetensors.File, prefix: String, model: Model, path: String) throws {
        try BatchNorm.restoreRunningStatistics(of: namedLayers(model), from: file, prefix: prefix, path: path)
    }
}

/// Bilinear resizing of [N, C, H, W] to [N, C, height, width] with half-pixel centres (PyTorch's
/// `interpolate(mode: "bilinear", align_corners: false)`); backward spreads each output gradient
/// over the four inputs it mixed. InfoPro's decoders only.
final class BilinearUpsample: Layer {
    let height: Int, width: Int
    private var inputShape: [Int] = []

    init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    var summary: String { "BilinearUpsample(\(height)×\(width))" }

    func outputShape(for inputShape: [Int]) throws -> [Int] { [inputShape[0], height, width] }

    /// For each output coordinate: the two source indices and the second one's weight.
    static func taps(_ out: Int, _ size: Int) -> [(Int, Int, Float)] {
        (0..<out).map { o in
            let source = max((Float(o) + 0.5) * Float(size) / Float(out) - 0.5, 0)
            let low = min(Int(source), size - 1)
            return (low, min(low + 1, size - 1), source - Float(low))
        }
    }

    func forward(_ input: Tensor, mode: Mode) -> Tensor {
        let (planes, h, w) = (input.shape[0] * input.shape[1], input.shape[2], input.shape[3])
        if mode.keepsForBackward { inputShape = input.shape }
        let (rows, columns) = (Self.taps(height, h), Self.taps(width, w))
        return Tensor(uninitializedShape: [input.shape[0], input.shape[1], height, width]) { out in
            input.withUnsafeBufferPointer { x in
                for p in 0..<planes {
                    let source = x.baseAddress! + p * h * w
                    for (i, (r0, r1, fr)) in rows.enumerated() {
                        for (j, (c0, c1, fc)) in columns.enumerated() {
                            let top = source[r0 * w + c0] * (1 - fc) + source[r0 * w + c1] * fc
                            let bottom = source[r1 * w + c0] * (1 - fc) + source[r1 * w + c1] * fc
                            out[(p * height + i) * width + j] = top * (1 - fr) + bottom * fr
                        }
                    }
                }
            }
        }
    }

    func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        guard propagate else { return nil }
        let (h, w) = (inputShape[2], inputShape[3]), planes = inputShape[0] * inputShape[1]
        let (rows, columns) = (Self.taps(height, h), Self.taps(width, w))
        var gradient = [Float](repeating: 0, count: planes * h * w)
        outputGradient.withUnsafeBufferPointer { g in
            for p in 0..<planes {
                for (i, (r0, r1, fr)) in rows.enumerated() {
                    for (j, (c0, c1, fc)) in columns.enumerated() {
                        let v = g[(p * height + i) * width + j], base = p * h * w
                        gradient[base + r0 * w + c0] += v * (1 - fr) * (1 - fc)
                        gradient[base + r0 * w + c1] += v * (1 - fr) * fc
                        gradient[base + r1 * w + c0] += v * fr * (1 - fc)
                        gradient[base + r1 * w + c1] += v * fr * fc
                    }
                }
            }
        }
        return Tensor(shape: inputShape, scalars: gradient)
    }
}
