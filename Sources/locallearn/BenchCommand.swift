import ArgumentParser
import Foundation
import LocalLearning

/// Measures the main kernels and one BP training epoch of the two reference workloads.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure GEMM, convolution, elementwise kernels and BP epochs (release builds only give meaningful figures)."
    )

    @Option(help: "Folder holding mnist/ and fashion-mnist/ (e.g. ../shared/datasets); synthetic data of the same shape otherwise.")
    var dataDir: String?

    @Option(help: "BLAS threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Model whose layers `--only layers` times.")
    var model = "smallconv"

    @Option(help: "Per-sample input shape of `--only layers`, CxHxW.")
    var input = "1x28x28"

    @Option(help: "Which parts to run: \(Self.parts.joined(separator: ", ")) (comma-separated).")
    var only = "kernels,mlp,smallconv"

    static let parts = ["kernels", "layers", "mlp", "smallconv"]

    @Option(help: "Epochs to time per workload (the best is reported).")
    var epochs = 1

    @Option(help: "Write the figures as JSON to this file.")
    var json: String?

    var inputShape: [Int] { input.split(separator: "x", omittingEmptySubsequences: false).compactMap { Int($0) } }

    func validate() throws {
        let names = only.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if let unknown = names.first(where: { !Self.parts.contains($0) }) {
            throw ValidationError("unknown --only part '\(unknown)'; expected some of: \(Self.parts.joined(separator: ", "))")
        }
        guard threads >= 1, threads <= 1024 else { throw ValidationError("--threads must be in 1…1024, got \(threads)") }
        guard epochs >= 1, epochs <= 1000 else { throw ValidationError("--epochs must be in 1…1000, got \(epochs)") }
        let shape = inputShape
        guard shape.count == 3, input.split(separator: "x", omittingEmptySubsequences: false).count == 3,
              shape.allSatisfy({ $0 > 0 && $0 <= 4096 }) else {
            throw ValidationError("bad --input '\(input)'; expected CxHxW such as 3x32x32")
        }
        if names.contains("layers") {
            try ModelSpec.validateFits(model, inputShape: shape, classes: 10, batchSize: 128)
        }
    }

    func run() throws {
        Runtime.configure(threads: threads)
        if let json { try OutputPath.checkFile(json, option: "--json") }
        let parts = Set(only.split(separator: ",").map(String.init))
        var results: [String: Double] = [:]
        print("locallearn bench: \(threads) BLAS thread\(threads == 1 ? "" : "s")")
        if parts.contains("kernels") { results.merge(kernels()) { $1 } }
        if parts.contains("layers") { try layerTimes() }
        if parts.contains("mlp") {
            results["mlp_bp_sgd_samples_per_s"] = try epoch(model: "mlp:784-256x5-10:tanh", dataset: .mnist,
                                                            optimizer: SGD(learningRate: 0.01, momentum: 0.9))
        }
        if parts.contains("smallconv") {
            results["smallconv_bp_adam_samples_per_s"] = try epoch(model: "smallconv", dataset: .fashionMNIST,
                                                                   optimizer: Adam(learningRate: 1e-3))
        }
        if let json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys, .prettyPrinted])
            try data.write(to: URL(fileURLWithPath: json))
        }
    }

    /// Median wall time of `body` over `repeats` runs after one warm-up.
    func time(repeats: Int, _ body: () -> Void) -> Double {
        body()
        return median((0..<repeats).map { _ in seconds(body) })
    }

    /// Wall time of one call of `body`.
    func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    func median(_ samples: [Double]) -> Double { samples.sorted()[samples.count / 2] }

    func kernels() -> [String: Double] {
        var rng = SeededGenerator(seed: 7)
        var out: [String: Double] = [:]
        for (m, n, k, label) in [(1024, 1024, 1024, "1024³"), (128, 256, 784, "128×784·784×256"),
                                 (128, 256, 256, "128×256·256×256"), (64, 25088, 288, "64×288·288×25088 (conv2 im2col)")] {
            let a = Tensor.uniform([m, k], bound: 1, using: &rng), b = Tensor.uniform([k, n], bound: 1, using: &rng)
            let seconds = time(repeats: m == 1024 ? 5 : 50) { _ = BLAS.matmul(a, b) }
            let gflops = 2 * Double(m * n * k) / seconds / 1e9
            print(String(format: "  gemm %-34@ %8.1f GFLOP/s", label as NSString, gflops))
            out["gemm_\(m)x\(n)x\(k)_gflops"] = gflops
        }
        let conv = Conv2D(32, 64, kernelSize: 3, padding: 1, rng: &rng)
        let x = Tensor.uniform([128, 32, 14, 14], bound: 1, using: &rng)
        let forward = time(repeats: 10) { _ = conv.forward(x, mode: .training) }
        let dy = Tensor.uniform([128, 64, 14, 14], bound: 1, using: &rng)
        let backward = time(repeats: 10) { _ = conv.backward(dy, propagate: true) }
        let macs = Double(128 * 64 * 196 * 288)
        print(String(format: "  conv 32→64 3×3 14×14 batch 128: forward %.2f ms (%.0f GFLOP/s), backward %.2f ms (%.0f GFLOP/s)",
                     forward * 1e3, 2 * macs / forward / 1e9, backward * 1e3, 4 * macs / backward / 1e9))
        out["conv_forward_ms"] = forward * 1e3
        out["conv_backward_ms"] = backward * 1e3
        out.merge(winogradAgainstIm2col(), uniquingKeysWith: { $1 })
        let g = ConvolutionGeometry(channels: 32, height: 14, width: 14, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1)
        let columns = UnsafeMutablePointer<Float>.allocate(capacity: g.patchSize * 128 * g.outputPlane)
        defer { columns.deallocate() }
        var image = [Float](repeating: 0, count: x.count)
        let unfold = time(repeats: 20) { x.withUnsafeBufferPointer { Im2col.unfold($0.baseAddress!, batch: 128, geometry: g, into: columns) } }
        let fold = time(repeats: 20) { Im2col.fold(columns, batch: 128, geometry: g, into: &image) }
        print(String(format: "  im2col 32×14×14, 3×3 pad 1, batch 128: unfold %.2f ms, fold %.2f ms", unfold * 1e3, fold * 1e3))
        out["im2col_unfold_ms"] = unfold * 1e3
        out["im2col_fold_ms"] = fold * 1e3
        let count = 1 << 20
        let v = Tensor.uniform([count], bound: 4, using: &rng)
        for function in [ActivationFunction.tanh, .relu, .sigmoid, .elu(alpha: 1)] {
            let seconds = time(repeats: 20) { _ = function.apply(v) }
            print(String(format: "  %-10@ %.3f ns/element", function.name as NSString, seconds / Double(count) * 1e9))
            out["elementwise_\(function.name.lowercased())_ns"] = seconds / Double(count) * 1e9
        }
        return out
    }

    /// Forward and backward time of ResNet-20's 3×3 convolutions (batch 128) by im2col and by Winograd,
    /// the two alternated in one loop so that the machine's noise falls on both alike.
    func winogradAgainstIm2col() -> [String: Double] {
        var rng = SeededGenerator(seed: 11)
        var out: [String: Double] = [:]
        for (channels, size) in [(16, 32), (32, 16), (64, 8)] {
            let conv = Conv2D(channels, channels, kernelSize: 3, padding: 1, rng: &rng)
            conv.winogradChannels = 1
            let x = Tensor.uniform([128, channels, size, size], bound: 1, using: &rng)
            let dy = Tensor.uniform(x.shape, bound: 1, using: &rng)
            var forward: [Bool: [Double]] = [true: [], false: []], backward = forward
            for _ in 0..<7 {
                for winograd in [false, true] {
                    conv.allowsWinograd = winograd
                    forward[winograd]!.append(seconds { _ = conv.forward(x, mode: .training) } * 1e3)
                    backward[winograd]!.append(seconds { _ = conv.backward(dy, propagate: true) } * 1e3)
                }
            }
            let (plain, fast) = (median(forward[false]!), median(forward[true]!))
            let (plainBack, fastBack) = (median(backward[false]!), median(backward[true]!))
            print(String(format: "  conv %d→%d 3×3 %d×%d batch 128, forward / backward ms: im2col %.2f / %.2f, Winograd %.2f / %.2f",
                         channels, channels, size, size, plain, plainBack, fast, fastBack))
            out["conv\(channels)_forward_im2col_ms"] = plain
            out["conv\(channels)_forward_winograd_ms"] = fast
            out["conv\(channels)_backward_im2col_ms"] = plainBack
            out["conv\(channels)_backward_winograd_ms"] = fastBack
        }
        return out
    }

    /// Forward and backward wall time of each of `model`'s blocks' layers (a residual unit as one:
    /// its body and shortcut take different inputs) at batch 128 on random inputs of `--input`.
    func layerTimes() throws {
        var rng = SeededGenerator(seed: 5)
        let network: Model
        do {
            network = try ModelSpec.build(model, inputShape: inputShape, classes: 10, seed: 1)
        } catch let error as ModelError {
            throw CommandError(error.description)
        }
        var x = Tensor.uniform([128] + inputShape, bound: 1, using: &rng)
        var inputs: [Tensor] = []
        print("  \(model), input \(input), batch 128: per-layer forward / backward (median ms)")
        var total = (0.0, 0.0)
        for layer in network.blocks.flatMap(\.layers) {
            inputs.append(x)
            let input = x
            let forward = time(repeats: 5) { x = layer.forward(input, mode: .training) }
            let dy = Tensor.uniform(x.shape, bound: 1, using: &rng)
            let backward = time(repeats: 5) { _ = layer.backward(dy, propagate: true) }
            total.0 += forward
            total.1 += backward
            print(String(format: "    %-48@ %8.2f %8.2f", layer.summary as NSString, forward * 1e3, backward * 1e3))
        }
        print(String(format: "    %-48@ %8.2f %8.2f", "total" as NSString, total.0 * 1e3, total.1 * 1e3))
    }

    /// Samples per second of BP training epochs (best of `epochs`), excluding evaluation.
    func epoch(model spec: String, dataset name: DatasetName, optimizer: Optimizer) throws -> Double {
        let train: Dataset
        if let dataDir {
            train = try name.load(directory: "\(dataDir)/\(name.rawValue)").train
        } else {
            var rng = SeededGenerator(seed: 3)
            let images = Tensor.uniform([60_000, 1, 28, 28], bound: 1, using: &rng)
            train = Dataset(name: "synthetic", images: images, labels: (0..<60_000).map { Int32($0 % 10) }, classes: 10)
        }
        let model = try ModelSpec.build(spec, inputShape: train.sampleShape, classes: train.classes, seed: 1)
        let rule = Backprop()
        let loader = DataLoader(dataset: train, batchSize: 128, seed: 1)
        var best = 0.0
        for e in 0..<epochs {
            let start = DispatchTime.now().uptimeNanoseconds
            loader.forEachBatch(epoch: e) { _, batch in _ = rule.step(model: model, batch: batch, optimizer: optimizer) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, Double(train.count) / seconds)
            print(String(format: "  %@ on %@ (%@), BP, batch 128: epoch %d %.2f s, %.0f samples/s", spec, name.rawValue,
                         dataDir == nil ? "synthetic" : "real", e + 1, seconds, Double(train.count) / seconds))
        }
        return best
    }
}
