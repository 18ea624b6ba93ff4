import Foundation

/// What a model spec costs in memory, computed from the spec alone — before a single weight is
/// allocated — so that a spec too large for the machine is refused with a figure instead of
/// failing an allocation, overflowing an integer or stalling for minutes.
///
/// The figure is an estimate and errs low: parameters × 4 (weights, gradients, two optimizer
/// moments) plus, per sample, every layer's output twice (kept for backward, and its gradient)
/// and each convolution's im2col columns. All arithmetic saturates at `Int.max`.
public struct ModelFootprint: Sendable, Equatable {
    public var parameters = 0
    /// Weighted layers (linear, convolution); a spec with more is refused outright.
    public var layers = 0
    /// Floats one sample keeps for backward (layer outputs and im2col columns).
    public var activationsPerSample = 0

    /// More layers than this is refused whatever their size (building them would take minutes).
    public static let maximumLayers = 10_000

    /// Bytes to train at `batchSize` with an optimizer of two moments.
    public func trainingBytes(batchSize: Int) -> Int {
        let parameterBytes = Self.product(parameters, 4 * MemoryLayout<Float>.stride)
        let activationBytes = Self.product(Self.product(activationsPerSample, 2 * MemoryLayout<Float>.stride), max(batchSize, 1))
        return Self.sum(parameterBytes, activationBytes)
    }

    /// Throws `ModelError.invalidSpec` naming the estimate when training `spec` at `batchSize`
    /// needs more than `memoryBytes` (default: the machine's physical memory).
    public func check(_ spec: String, batchSize: Int,
                      memoryBytes: Int = Int(clamping: ProcessInfo.processInfo.physicalMemory)) throws {
        guard layers <= Self.maximumLayers else {
            throw ModelError.invalidSpec(spec: spec, reason: "\(layers) weighted layers; at most \(Self.maximumLayers) are supported")
        }
        let bytes = trainingBytes(batchSize: batchSize)
        guard bytes <= memoryBytes else {
            throw ModelError.invalidSpec(spec: spec, reason: "training it at batch \(batchSize) needs about \(Self.describe(bytes)) "
                                         + "(\(Self.count(parameters)) parameters with their gradients and optimizer moments, "
                                         + "\(Self.count(activationsPerSample)) activations per sample), more than this machine's "
                                         + "\(Self.describe(memoryBytes)) of memory")
        }
    }

    static func product(_ a: Int, _ b: Int) -> Int {
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? Int.max : value
    }

    static func sum(_ a: Int, _ b: Int) -> Int {
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : value
    }

    mutating func addLayer(parameters count: Int, outputs: Int, columns: Int = 0) {
        layers += 1
        parameters = Self.sum(parameters, count)
        activationsPerSample = Self.sum(activationsPerSample, Self.sum(outputs, columns))
    }

    static func describe(_ bytes: Int) -> String {
        if bytes == Int.max { return "over 8 EiB" }
        let gib = Double(bytes) / 1_073_741_824
        return gib >= 1024 ? String(format: "%.1f TiB", gib / 1024) : String(format: "%.1f GiB", gib)
    }

    static func count(_ n: Int) -> String {
        if n == Int.max { return "over 9.2e18" }
        let x = Double(n)
        return x >= 1e9 ? String(format: "%.1f G", x / 1e9) : x >= 1e6 ? String(format: "%.1f M", x / 1e6) : "\(n)"
    }
}

extension ModelSpec {
    /// The footprint of `spec` on inputs of `inputShape` with `classes` outputs, from the spec's
    /// grammar alone (nothing allocated). Throws for a spec `build` would refuse on its grammar.
    public static func footprint(_ spec: String, inputShape: [Int], classes: Int) throws -> ModelFootprint {
        let parts = resolve(spec)
        guard parts.count >= 2 else { throw ModelError.invalidSpec(spec: spec, reason: "expected one of \(help)") }
        let p = ModelFootprint.product, s = ModelFootprint.sum
        var footprint = ModelFootprint()
        switch parts[0].lowercased() {
        case "mlp":
            let widths = try mlpWidths(spec, sizes: parts[1])
            _ = try parseOptions(spec, Array(parts.dropFirst(2)), defaultActivation: .tanh, defaultBatchNorm: false, allowFC: false)
            for (a, b) in zip(widths, widths.dropFirst()) { footprint.addLayer(parameters: s(p(a, b), b), outputs: p(3, b)) }
        case "cnn":
            guard inputShape.count == 3 else { return footprint }   // build names the problem
            let options = try parseOptions(spec, Array(parts.dropFirst(2)), defaultActivation: .relu, defaultBatchNorm: true, allowFC: true)
            var (c, h, w) = (inputShape[0], inputShape[1], inputShape[2])
            // Per output channel or unit: the bias, and BatchNorm's scale and shift unless `nobn`.
            let perUnit = options.batchNorm ? 3 : 1
            for token in parts[1].split(separator: ",").map({ $0.trimmingSpaces() }) {
                if let conv = try ConvolutionToken(token, spec: spec) {
                    let patch = p(p(conv.kernel, conv.kernel), c)
                    (h, w) = (max(0, (h + 2 * conv.padding - conv.kernel) / conv.stride + 1), max(0, (w + 2 * conv.padding - conv.kernel) / conv.stride + 1))
                    let pixels = p(h, w)
                    footprint.addLayer(parameters: s(p(patch, conv.width), p(perUnit, conv.width)), outputs: p(p(3, conv.width), pixels),
                                       columns: p(patch, pixels))
                    c = conv.width
                } else if token.uppercased() == "M" {
                    (h, w) = (h / 2, w / 2)
                } else if token.uppercased().hasPrefix("A"), let size = Int(token.dropFirst()), size > 0 {
                    (h, w) = (size, size)
                }
            }
            var features = p(c, p(h, w))
            for width in options.hiddenFC {
                footprint.addLayer(parameters: s(p(features, width), p(perUnit, width)), outputs: p(3, width))
                features = width
            }
            footprint.addLayer(parameters: s(p(features, classes), classes), outputs: classes)
        case "resnet":
            _ = try resnetPerturbativeMasks(spec, options: Array(parts.dropFirst(2)))
            guard let n = Int(parts[1]), n > 0, inputShape.count == 3 else { return footprint }
            var (c, pixels) = (16, p(inputShape[1], inputShape[2]))
            footprint.addLayer(parameters: p(p(9, inputShape[0]), 16), outputs: p(48, pixels), columns: p(p(9, inputShape[0]), pixels))
            for (stage, width) in [16, 32, 64].enumerated() {
                if stage > 0 { pixels /= 4 }
                // Two conv3×3 per block (the first of a stage reads c channels), BN, ReLU, the sum.
                let first = s(p(p(9, c), width), p(p(9, width), width)), rest = p(p(p(18, width), width), n - 1)
                let outputs = p(p(p(8, width), pixels), n), columns = p(p(p(18, width), pixels), n)
                footprint.addLayer(parameters: s(first, rest), outputs: outputs, columns: columns)
                footprint.layers = s(footprint.layers, p(2, n) - 1)
                c = width
            }
            footprint.addLayer(parameters: s(p(c, classes), classes), outputs: classes)
        case "vit":
            footprint = try vitFootprint(spec, fields: parts[1], options: Array(parts.dropFirst(2)), inputShape: inputShape, classes: classes)
        default:
            break   // build names the unknown kind
        }
        return footprint
    }
}
