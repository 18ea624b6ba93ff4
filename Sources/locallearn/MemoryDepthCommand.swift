import ArgumentParser
import Foundation
import LocalLearning

/// SLL's claim that training memory stays flat with depth, measured: MLPs of equal-width hidden
/// layers (or any spec with `{D}` for the depth, e.g. a ViT) at several depths, each rule's
/// engine-measured peak memory per depth.
struct MemoryDepthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory-depth",
        abstract: "Peak training memory of MLPs of growing depth, per rule (SLL's memory-invariance claim).",
        discussion: """
        For each depth D, mlp:INPUT-WIDTHxD-CLASSES:relu runs a few training steps per rule on synthetic input \
        (memory does not depend on the data) while the engine measures what is live. Working memory is \
        activations + gradients at their peak + rule state: what training needs beyond the parameters and their \
        optimizer moments, which grow with depth alike for every rule. Local rules run with transient \
        gradients (a unit's gradients exist only while it trains) unless --keep-gradients. \
        --model replaces the MLP by any spec with {D} where the depth goes, on inputs of --shape: \
        `--model 'vit:patch4-dim128-depth{D}-heads4-mlp2' --shape 3x32x32` is SLL's Figure 2c counterpart.
        """
    )

    @Option(help: "Hidden-layer counts, comma-separated.")
    var depths = "2,4,8,16"

    @Option(help: "Hidden-layer width.")
    var width = 1000

    @Option(help: "Input features.")
    var input = 784

    @Option(help: "A model spec with {D} for the depth (default: mlp:INPUT-WIDTHx{D}-CLASSES:relu).")
    var model: String?

    @Option(help: "Per-sample input shape for --model, CxHxW or a feature count (default: --input features).")
    var shape: SampleShape?

    @Option(help: "Number of classes.")
    var classes = 10

    @Option(help: "Rules, comma-separated.")
    var rules = "bp,sll"

    @Option(help: "Batch size.")
    var batchSize = 128

    @Option(help: "Blocks per unit for the rules that train units (SLL+ is sll with --local-unit 2); others ignore it.")
    var localUnit: Int?

    @Flag(help: "Keep every gradient allocated for local rules too.")
    var keepGradients = false

    @Option(help: "BLAS threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        _ = try CommaList.positiveIntegers(depths, option: "--depths")
        guard width > 0, input > 0, classes > 1, batchSize > 1, threads >= 1, threads <= 1024 else {
            throw ValidationError("--width, --input and --batch-size must be positive, --classes at least 2 and --threads in 1…1024")
        }
        if let localUnit, localUnit < 1 || localUnit > ModelFootprint.maximumLayers {
            throw ValidationError("--local-unit must be in 1…\(ModelFootprint.maximumLayers), got \(localUnit)")
        }
        if let model, !model.contains("{D}") {
            throw ValidationError("--model '\(model)' has no {D} where the depth goes, e.g. vit:patch4-dim128-depth{D}-heads4-mlp2")
        }
        if shape != nil && model == nil { throw ValidationError("--shape applies to --model; the MLP reads --input features") }
        for depth in try CommaList.positiveIntegers(depths, option: "--depths") {
            try ModelSpec.validateFits(spec(depth), inputShape: inputShape, classes: classes, batchSize: batchSize)
        }
        _ = try CommaList.ruleNames(rules)
    }

    func spec(_ depth: Int) -> String {
        model?.replacingOccurrences(of: "{D}", with: String(depth)) ?? "mlp:\(input)-\(width)x\(depth)-\(classes):relu"
    }

    var inputShape: [Int] { shape?.dimensions ?? [input] }

    var template: String { model ?? "mlp:\(input)-\(width)xD-\(classes):relu" }

    func run() throws {
        Runtime.configure(threads: threads)
        let depthList = try CommaList.positiveIntegers(depths, option: "--depths")
        let names = try CommaList.ruleNames(rules)
        let mib = TrainCommand.mebibytes
        print("memory-depth: \(template), batch \(batchSize), adam; "
              + (keepGradients ? "every gradient kept" : "local rules with transient gradients")
              + (localUnit.map { ", units of \($0) blocks" } ?? ""))
        print("| rule | D | working memory | activations | gradients | rule state | parameters + Adam | total |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        var growth: [(String, Int, Int, Int, Int)] = []
        for name in names {
            var reports: [MemoryReport] = []
            for depth in depthList {
                let profile: CostProfile
                do {
                    profile = try CostProfile.measure(rule: name, spec: spec(depth), inputShape: inputShape, classes: classes,
                                                      batchSize: batchSize, options: localUnit.map { ["local-unit": "\($0)"] } ?? [:],
                                                      transientGradients: !keepGradients)
                } catch let ModelError.unsupportedRule(_, _, reason) {
                    print("| \(name) | \(depth) | not applicable: \(reason) |")
                    continue
                } catch let error as ModelError {
                    throw CommandError(error.description)
                }
                let m = profile.memory
                reports.append(m)
                print("| \(name) | \(depth) | \(mib(m.workingBytes)) | \(mib(m.peakActivationBytes)) | \(mib(m.gradientBytes)) "
                      + "| \(mib(m.ruleStateBytes)) | \(mib(m.parameterBytes + m.optimizerBytes)) | \(mib(m.totalBytes)) |")
            }
            if let first = reports.first, let last = reports.last {
                growth.append((name, first.workingBytes, last.workingBytes, first.totalBytes, last.totalBytes))
            }
        }
        guard let shallow = depthList.first, let deep = depthList.last, depthList.count > 1 else { return }
        for (name, w0, w1, t0, t1) in growth {
            print("\(name): from D = \(shallow) to D = \(deep) working memory "
                  + String(format: "%+.1f%%, total %+.1f%%", 100 * (Double(w1) / Double(w0) - 1), 100 * (Double(t1) / Double(t0) - 1)))
        }
    }
}
