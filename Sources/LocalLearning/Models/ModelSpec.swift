/// Builds models from spec strings.
///
/// - `mlp:784-256x5-10:tanh` — layer sizes (`WxN` repeats a width N times), then options:
///   an activation (`ActivationFunction.names`), `bn` (BatchNorm after each hidden linear layer),
///   `dropout0.2` (dropout after each hidden activation), `res` (after the first hidden layer,
///   pairs of hidden layers become residual blocks φ(W₂φ(W₁x) + x), gap 2: `mlp:784-256x8-10:tanh:res`
///   is fc1, three residual blocks and fc8).
/// - `cnn:64,M,128,M,256,256,M,512,M` — VGG-style: a number is a conv3×3(pad 1)→BatchNorm→activation
///   block of that width (`WkKsSpP` sets kernel K, stride S and padding P: `6k5p0` is a 5×5 convolution
///   without padding; the padding defaults to ⌊K/2⌋, the stride to 1), `M` a 2×2 max-pool, `A2` an adaptive average pool to 2×2; then options:
///   an activation (default leakyrelu), `fc512` (a hidden linear→BN→activation block; repeatable),
///   `nobn`, `dropout0.5` (before each linear layer), `pconv` / `pconvN` (every convolution after
///   the first becomes a `Perturbative` layer with N noise maps per input channel, default 1 — the
///   perturbative counterpart, e.g. `cnn:32,M,64,M,128,A2:leakyrelu:fc512:pconv` for smallconv).
///   The classifier is a final linear layer.
/// - `resnet:N` — a CIFAR-style ResNet (He et al. 2016, §4.2): a conv3×3(16)→BN→ReLU stem, three
///   stages of N BasicBlocks of widths 16/32/64 (two conv3×3→BN with an identity shortcut; a stride-2
///   first conv and a 1×1 stride-2 conv→BN shortcut where the width doubles), ReLU after each sum,
///   global average pool, linear. Convolutions have no bias (BatchNorm follows). Any [C, H, W] input.
///   `resnet:N:pconv[M]`: every 3×3 stride-1 convolution after the stem becomes a `Perturbative` layer
///   with M noise maps per input channel (the strided convolutions and 1×1 shortcuts stay), for rec-LRA's
///   perturbative ResNets.
/// - `lenet` = `cnn:6k5p0,M,16k5p0,M:relu:nobn:fc120:fc84`: LeNet-5 as BioTorch builds it (5×5
///   convolutions without padding, ReLU, 2×2 max-pool, no BatchNorm; 16·4·4 features on 28×28 input,
///   16·5·5 on 32×32).
/// - Presets: options after a preset's name are appended to its own (`smallconv:tanh`). `smallconv` = `cnn:32,M,64,M,128,A2:leakyrelu:fc512`,
///   `vgg8` = `cnn:128,256,M,256,256,M,512,M,512,A2:leakyrelu:fc1024`, `resnet20` = `resnet:3`,
///   `resnet32` = `resnet:5`, `resnet110` = `resnet:18`.
/// - `vit:patch4-dim128-depth6-heads4-mlp2[:cls|:mean][:dropoutP]` — a Vision Transformer (`ViTSpec`).
public enum ModelSpec {
    public static let presets: [String: String] = [
        "smallconv": "cnn:32,M,64,M,128,A2:leakyrelu:fc512",
        "lenet": "cnn:6k5p0,M,16k5p0,M:relu:nobn:fc120:fc84",
        "vgg8": "cnn:128,256,M,256,256,M,512,M,512,A2:leakyrelu:fc1024",
        "resnet20": "resnet:3", "resnet32": "resnet:5", "resnet110": "resnet:18",
    ]

    public static let help = "mlp:IN-H1xN-…-CLASSES[:ACT][:bn][:dropoutP], cnn:W[kK][sS][pP],M,…,A2[:ACT][:fcN][:nobn][:dropoutP], resnet:N[:pconv[M]], \(ViTSpec.grammar), smallconv, lenet, vgg8, resnet20, resnet32, resnet110"

    /// Builds the model `spec` for inputs of per-sample shape `inputShape` ([C, H, W]) and `classes` outputs.
    public static func build(_ spec: String, inputShape: [Int], classes: Int, seed: UInt64 = 1,
                             initializer: Initializer = .pytorchDefault) throws -> Model {
        var rng = SeededGenerator(seed: seed)
        let parts = resolve(spec)
        guard let kind = parts.first?.lowercased(), parts.count >= 2 else {
            throw ModelError.invalidSpec(spec: spec, reason: "expected one of \(help)")
        }
        // Refuse what cannot fit before allocating anything (the caller checks at its batch size too).
        try footprint(spec, inputShape: inputShape, classes: classes).check(spec, batchSize: 1)
        let blocks: [Block]
        switch kind {
        case "mlp":
            blocks = try mlp(spec, sizes: parts[1], options: Array(parts.dropFirst(2)), inputShape: inputShape,
                             classes: classes, initializer: initializer, rng: &rng)
        case "cnn":
            blocks = try cnn(spec, layers: parts[1], options: Array(parts.dropFirst(2)), inputShape: inputShape,
                             classes: classes, initializer: initializer, rng: &rng)
        case "resnet":
            blocks = try resnet(spec, blocksPerStage: parts[1], options: Array(parts.dropFirst(2)), inputShape: inputShape, classes: classes,
                                initializer: initializer, rng: &rng)
        case "vit":
            blocks = try vit(spec, fields: parts[1], options: Array(parts.dropFirst(2)), inputShape: inputShape, classes: classes,
                             initializer: initializer, rng: &rng)
        default:
            throw ModelError.invalidSpec(spec: spec, reason: "unknown model kind '\(kind)'; expected one of \(help)")
        }
        do {
            return try Model(blocks: blocks, inputShape: inputShape, classes: classes, spec: spec)
        } catch let error as ModelError {
            if case .invalidSpec = error { throw error }
            throw ModelError.invalidSpec(spec: spec, reason: error.description)
        }
    }

    /// The spec's ':'-separated parts, a preset's name replaced by its definition (options after a
    /// preset are appended to its own, so `smallconv:tanh` is smallconv with tanh activations).
    static func resolve(_ spec: String) -> [String] {
        var parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if let first = parts.first, let preset = presets[first.lowercased()] {
            parts = preset.split(separator: ":", omittingEmptySubsequences: false).map(String.init) + parts.dropFirst()
        }
        return parts
    }

    /// An MLP's layer widths, `WxN` expanded; refused before expanding when the count is absurd.
    static func mlpWidths(_ spec: String, sizes: String) throws -> [Int] {
        var counts: [(width: Int, repeats: Int)] = []
        var total = 0
        for token in sizes.split(separator: "-", omittingEmptySubsequences: false) {
            let pieces = token.split(separator: "x", omittingEmptySubsequences: false)
            guard (1...2).contains(pieces.count), let width = Int(pieces[0]), width > 0,
                  let repeats = pieces.count == 2 ? Int(pieces[1]) : 1, repeats > 0 else {
                throw ModelError.invalidSpec(spec: spec, reason: "'\(token)' is not a layer size (WIDTH or WIDTHxCOUNT, positive integers)")
            }
            total = ModelFootprint.sum(total, repeats)
            guard total <= ModelFootprint.maximumLayers + 1 else {
                throw ModelError.invalidSpec(spec: spec, reason: "more than \(ModelFootprint.maximumLayers) layers are not supported")
            }
            counts.append((width, repeats))
        }
        return counts.flatMap { Array(repeating: $0.width, count: $0.repeats) }
    }

    struct Options {
        var activation: ActivationFunction
        var batchNorm: Bool
        var dropout: Float = 0
        var hiddenFC: [Int] = []
        /// Noise maps per input channel when every convolution but the first is a perturbative layer (0: plain convolutions).
        var perturbativeMasks = 0
        /// MLP: pairs of hidden layers after the first become residual blocks (gap 2).
        var residual = false
    }

    static func parseOptions(_ spec: String, _ tokens: [String], defaultActivation: ActivationFunction,
                             defaultBatchNorm: Bool, allowFC: Bool) throws -> Options {
        var options = Options(activation: defaultActivation, batchNorm: defaultBatchNorm)
        for token in tokens where !token.isEmpty {
            let t = token.lowercased()
            if let act = ActivationFunction(name: t) {
                options.activation = act
            } else if !allowFC, t == "res" {
                options.residual = true
            } else if t == "bn" {
                options.batchNorm = true
            } else if t == "nobn" {
                options.batchNorm = false
            } else if t.hasPrefix("dropout"), let p = Float(t.dropFirst("dropout".count).drop { $0 == "=" }), p >= 0, p < 1 {
                options.dropout = p
            } else if allowFC, t.hasPrefix("fc"), let width = Int(t.dropFirst(2)), width > 0 {
                options.hiddenFC.append(width)
            } else if allowFC, let masks = perturbativeMasks(t) {
                options.perturbativeMasks = masks
            } else {
                throw ModelError.invalidSpec(spec: spec, reason: "unknown option '\(token)'; expected an activation (\(ActivationFunction.names)), bn, nobn, dropoutP\(allowFC ? ", fcN, pconv[N]" : ", res")")
            }
        }
        return options
    }

    static func mlp(_ spec: String, sizes: String, options tokens: [String], inputShape: [Int], classes: Int,
                    initializer: Initializer, rng: inout SeededGenerator) throws -> [Block] {
        let widths = try mlpWidths(spec, sizes: sizes)
        guard widths.count >= 2 else {
            throw ModelError.invalidSpec(spec: spec, reason: "an MLP needs at least an input and an output size")
        }
        let inputSize = inputShape.reduce(1, *)
        guard widths.first == inputSize else {
            throw ModelError.invalidSpec(spec: spec, reason: "input size \(widths[0]) does not match the data's \(inputSize) (\(inputShape.map(String.init).joined(separator: "×")))")
        }
        guard widths.last == classes else {
            throw ModelError.invalidSpec(spec: spec, reason: "output size \(widths.last!) does not match the data's \(classes) classes")
        }
        let options = try parseOptions(spec, tokens, defaultActivation: .tanh, defaultBatchNorm: false, allowFC: false)
        var blocks: [Block] = []
        var i = 0
        while i < widths.count - 1 {
            defer { i += 1 }
            // With `res`, hidden layers i+1 and i+2 (after the first) form a residual block when its input and output widths match.
            if options.residual, i > 0, i + 2 < widths.count - 1, widths[i] == widths[i + 2] {
                var body: [Layer] = [Linear(widths[i], widths[i + 1], initializer: initializer, rng: &rng)]
                if options.batchNorm { body.append(BatchNorm(channels: widths[i + 1])) }
                body += [Activation(options.activation), Linear(widths[i + 1], widths[i + 2], initializer: initializer, rng: &rng)]
                if options.batchNorm { body.append(BatchNorm(channels: widths[i + 2])) }
                blocks.append(Block(name: "res\(i + 1)", layers: [Residual(body: body), Activation(options.activation)]))
                i += 1
                continue
            }
            var layers: [Layer] = i == 0 ? [Flatten()] : []
            layers.append(Linear(widths[i], widths[i + 1], initializer: initializer, rng: &rng))
            if i < widths.count - 2 {
                if options.batchNorm { layers.append(BatchNorm(channels: widths[i + 1])) }
                layers.append(Activation(options.activation))
                if options.dropout > 0 { layers.append(Dropout(probability: options.dropout, rng: &rng)) }
                blocks.append(Block(name: "fc\(i + 1)", layers: layers))
            } else {
                blocks.append(Block(name: "classifier", layers: layers))
            }
        }
        return blocks
    }

    static func cnn(_ spec: String, layers description: String, options tokens: [String], inputShape: [Int],
                    classes: Int, initializer: Initializer, rng: inout SeededGenerator) throws -> [Block] {
        guard inputShape.count == 3 else {
            throw ModelError.invalidSpec(spec: spec, reason: "a CNN needs image input [C, H, W], got \(inputShape)")
        }
        let options = try parseOptions(spec, tokens, defaultActivation: .leakyReLU(slope: 0.01), defaultBatchNorm: true,
                                       allowFC: true)
        var blocks: [Block] = []
        var current: [Layer] = []
        var channels = inputShape[0]
        var shape = inputShape
        func close() {
            if !current.isEmpty { blocks.append(Block(name: "conv\(blocks.count + 1)", layers: current)) }
            current = []
        }
        func append(_ layer: Layer) throws {
            do { shape = try layer.outputShape(for: shape) } catch let error as ModelError {
                throw ModelError.invalidSpec(spec: spec, reason: error.description)
            }
            current.append(layer)
        }
        for token in description.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingSpaces() }) {
            if let conv = try ConvolutionToken(token, spec: spec) {
                let width = conv.width
                close()
                if options.perturbativeMasks > 0 && !blocks.isEmpty {
                    guard conv.isDefaultGeometry else {
                        throw ModelError.invalidSpec(spec: spec, reason: "pconv replaces 3×3 same-size convolutions; '\(token)' sets its own geometry")
                    }
                    try append(Perturbative(channels, width, masks: options.perturbativeMasks, initializer: initializer, rng: &rng))
                } else {
                    try append(Conv2D(channels, width, kernelSize: conv.kernel, stride: conv.stride, padding: conv.padding, bias: true,
                                      initializer: initializer, rng: &rng))
                }
                if options.batchNorm { try append(BatchNorm(channels: width)) }
                try append(Activation(options.activation))
                channels = width
            } else if token.uppercased() == "M" {
                guard !current.isEmpty else { throw ModelError.invalidSpec(spec: spec, reason: "'M' must follow a convolution") }
                try append(MaxPool2D(kernelSize: 2))
            } else if token.uppercased().hasPrefix("A"), let size = Int(token.dropFirst()), size > 0 {
                guard !current.isEmpty else { throw ModelError.invalidSpec(spec: spec, reason: "'\(token)' must follow a convolution") }
                try append(AdaptiveAvgPool2D(size))
            } else {
                throw ModelError.invalidSpec(spec: spec, reason: "'\(token)' is not a convolution (WIDTH[kK][sS][pP]), M (max-pool) or A<size> (adaptive average pool)")
            }
        }
        close()
        guard !blocks.isEmpty else { throw ModelError.invalidSpec(spec: spec, reason: "no convolution layers") }
        var features = shape.reduce(1, *)
        var flattened = false
        for (i, width) in options.hiddenFC.enumerated() {
            var layers: [Layer] = flattened ? [] : [Flatten()]
            flattened = true
            if options.dropout > 0 { layers.append(Dropout(probability: options.dropout, rng: &rng)) }
            layers.append(Linear(features, width, initializer: initializer, rng: &rng))
            if options.batchNorm { layers.append(BatchNorm(channels: width)) }
            layers.append(Activation(options.activation))
            blocks.append(Block(name: "fc\(i + 1)", layers: layers))
            features = width
        }
        var classifier: [Layer] = flattened ? [] : [Flatten()]
        if options.dropout > 0 { classifier.append(Dropout(probability: options.dropout, rng: &rng)) }
        classifier.append(Linear(features, classes, initializer: initializer, rng: &rng))
        blocks.append(Block(name: "classifier", layers: classifier))
        return blocks
    }
}

extension ModelSpec {
    /// The N of a lower-cased `pconv` / `pconvN` option (1 for `pconv`), or nil for another token or N < 1.
    static func perturbativeMasks(_ token: String) -> Int? {
        guard token.hasPrefix("pconv"), let masks = token == "pconv" ? 1 : Int(token.dropFirst(5)), masks > 0 else { return nil }
        return masks
    }

    /// Noise maps per input channel of `resnet:N:pconv[M]` (0 without the option); refuses any other option.
    static func resnetPerturbativeMasks(_ spec: String, options: [String]) throws -> Int {
        var masks = 0
        for option in options where !option.isEmpty {
            guard let m = perturbativeMasks(option.lowercased()), m <= 1024 else {
                throw ModelError.invalidSpec(spec: spec, reason: "unknown resnet option '\(option)'; the only one is pconv[N] (N in 1…1024)")
            }
            masks = m
        }
        return masks
    }

    static func resnet(_ spec: String, blocksPerStage: String, options: [String] = [], inputShape: [Int], classes: Int, initializer: Initializer,
                       rng: inout SeededGenerator) throws -> [Block] {
        guard let n = Int(blocksPerStage), n > 0 else {
            throw ModelError.invalidSpec(spec: spec, reason: "'\(blocksPerStage)' is not a number of blocks per stage (resnet:N)")
        }
        let masks = try resnetPerturbativeMasks(spec, options: options)
        /// A 3×3 stride-1 convolution of a block, perturbative with `pconv`.
        func same(_ i: Int, _ o: Int, rng: inout SeededGenerator) -> Layer {
            masks > 0 ? Perturbative(i, o, masks: masks, initializer: initializer, rng: &rng) : conv(i, o, 3, stride: 1, rng: &rng)
        }
        guard inputShape.count == 3 else { throw ModelError.invalidSpec(spec: spec, reason: "a ResNet needs image input [C, H, W], got \(inputShape)") }
        func conv(_ i: Int, _ o: Int, _ k: Int, stride: Int, rng: inout SeededGenerator) -> Conv2D {
            Conv2D(i, o, kernelSize: k, stride: stride, padding: k / 2, bias: false, initializer: initializer, rng: &rng)
        }
        var blocks = [Block(name: "stem", layers: [conv(inputShape[0], 16, 3, stride: 1, rng: &rng), BatchNorm(channels: 16), Activation(.relu)])]
        var channels = 16
        for (stage, width) in [16, 32, 64].enumerated() {
            for index in 0..<n {
                let stride = stage > 0 && index == 0 ? 2 : 1
                let first: Layer = stride == 1 ? same(channels, width, rng: &rng) : conv(channels, width, 3, stride: stride, rng: &rng)
                let body: [Layer] = [first, BatchNorm(channels: width), Activation(.relu), same(width, width, rng: &rng), BatchNorm(channels: width)]
                let shortcut: [Layer] = stride != 1 || channels != width ? [conv(channels, width, 1, stride: stride, rng: &rng), BatchNorm(channels: width)] : []
                blocks.append(Block(name: "res\(blocks.count)", layers: [Residual(body: body, shortcut: shortcut), Activation(.relu)]))
                channels = width
            }
        }
        blocks.append(Block(name: "classifier", layers: [AdaptiveAvgPool2D(1), Flatten(), Linear(channels, classes, initializer: initializer, rng: &rng)]))
        return blocks
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

/// One convolution of a `cnn:` spec: `WIDTH[kK][sS][pP]` (kernel, stride, padding; default 3, 1, ⌊K/2⌋).
struct ConvolutionToken {
    var width: Int
    var kernel = 3, stride = 1
    var padding: Int

    /// Today's plain width: a 3×3 same-size convolution.
    var isDefaultGeometry: Bool { kernel == 3 && stride == 1 && padding == 1 }

    /// nil when `token` does not start with a digit (M, A2, …); throws when it does but is malformed.
    init?(_ token: String, spec: String) throws {
        guard let first = token.first, first.isNumber else { return nil }
        let lowered = token.lowercased()
        var fields: [Character: Int] = [:]
        var key: Character = "w", digits = ""
        func close() throws {
            guard let value = Int(digits), fields[key] == nil else {
                throw ModelError.invalidSpec(spec: spec, reason: "'\(token)' is not a convolution (WIDTH[kK][sS][pP], e.g. 6k5p0)")
            }
            fields[key] = value
        }
        for character in lowered {
            if character.isNumber { digits.append(character); continue }
            guard "ksp".contains(character) else {
                throw ModelError.invalidSpec(spec: spec, reason: "'\(token)' is not a convolution (WIDTH[kK][sS][pP], e.g. 6k5p0)")
            }
            try close()
            (key, digits) = (character, "")
        }
        try close()
        width = fields["w"]!
        kernel = fields["k"] ?? 3
        stride = fields["s"] ?? 1
        padding = fields["p"] ?? kernel / 2
        guard width > 0, kernel > 0, kernel <= 64, stride > 0, stride <= 64, padding <= 64 else {
            throw ModelError.invalidSpec(spec: spec, reason: "'\(token)': width, kernel (≤ 64) and stride (≤ 64) must be positive and padding ≤ 64")
        }
    }
}
