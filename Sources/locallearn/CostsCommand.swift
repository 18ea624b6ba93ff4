import ArgumentParser
import Foundation
import LocalLearning

/// MACs per sample and measured peak training memory of several rules on one model.
struct CostsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "costs",
        abstract: "MACs per training sample (forward / learning signal / update) and the engine's peak training memory, per rule.",
        discussion: """
        Memory is measured, not estimated: each rule runs a few training steps on synthetic input while the \
        engine adds up the buffers every layer holds (activations kept for backward, scratch) and the tensors \
        in flight, after every block. Parameters, gradients, optimizer moments and rule state are added. \
        Working memory is what training needs beyond the parameters and their optimizer moments (which every \
        rule needs alike): activations, gradients (at their peak) and rule state. \
        MACs are analytical from the layer shapes; pooling, normalisation and activations count as free.
        """
    )

    @Option(help: "Model spec: \(ModelSpec.help).")
    var model = "smallconv"

    @Option(help: "Per-sample input shape, CxHxW (e.g. 3x32x32) or a feature count.")
    var input = SampleShape(argument: "1x28x28")!

    @Option(help: "Number of classes.")
    var classes = 10

    @Option(help: "Rules, comma-separated.")
    var rules = "bp,fa,dfa,lls,lls-m,lls-mxm"

    @Option(help: "Batch size.")
    var batchSize = 128

    @Option(help: "Training steps measured per rule.")
    var steps = 2

    @Option(help: "Optimizer whose state is counted.")
    var optimizer = OptimizerKind.adam

    @Option(help: "AugLocal: auxiliary depth d.")
    var auxDepth = 2

    @Option(help: "AugLocal: pyramid coefficient τ.")
    var pyramid: Float = 0.5

    @Flag(help: "Local rules: allocate a unit's gradients only while it trains (see train --transient-gradients).")
    var transientGradients = false

    @Option(help: "BLAS threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    var shape: [Int] { input.dimensions }

    func validate() throws {
        guard classes >= 2, classes <= 1 << 20 else { throw ValidationError("--classes must be in 2…1048576, got \(classes)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard steps >= 1, steps <= 10_000 else { throw ValidationError("--steps must be in 1…10000, got \(steps)") }
        guard auxDepth >= 1, auxDepth <= 1000, pyramid >= 0, pyramid <= 1 else {
            throw ValidationError("--aux-depth must be in 1…1000 and --pyramid in [0, 1]")
        }
        guard threads >= 1, threads <= 1024 else { throw ValidationError("--threads must be in 1…1024, got \(threads)") }
        _ = try CommaList.ruleNames(rules)
        try ModelSpec.validateFits(model, inputShape: shape, classes: classes, batchSize: batchSize)
    }

    func run() throws {
        Runtime.configure(threads: threads)
        let shape = shape, kind = optimizer
        let names = try CommaList.ruleNames(rules)
        print("costs: \(model), input \(shape.map(String.init).joined(separator: "×")), \(classes) classes, batch \(batchSize), \(optimizer.rawValue)")
        print("| rule | forward MACs | signal MACs | update MACs | signal vs BP | peak memory | working memory | activations | gradients | params + optimizer | rule state | s/step |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        var bpSignal: Int?
        for name in names {
            let profile: CostProfile
            do {
                profile = try CostProfile.measure(rule: name, spec: model, inputShape: shape, classes: classes,
                                                  batchSize: batchSize, steps: steps, optimizer: kind,
                                                  options: ["aux-depth": "\(auxDepth)", "pyramid": "\(pyramid)"], transientGradients: transientGradients)
            } catch let ModelError.unsupportedRule(_, _, reason) {
                print("| \(name) | not applicable: \(reason) |")   // as compare lists it; the other rules go on
                continue
            } catch let error as ModelError {
                throw CommandError(error.description)
            }
            if name == "bp" { bpSignal = profile.macs?.signal }
            let m = profile.memory
            let ratio: String
            if name == "bp" {
                ratio = "1×"
            } else if let bp = bpSignal, let signal = profile.macs?.signal, signal > 0 {
                ratio = signal <= bp ? String(format: "%.1f× fewer", Double(bp) / Double(signal))
                                     : String(format: "%.1f× more", Double(signal) / Double(bp))
            } else {
                ratio = "–"
            }
            let macs = profile.macs
            print("| \(name) | \(macs.map { TrainCommand.count($0.forward) } ?? "–") | \(macs.map { TrainCommand.count($0.signal) } ?? "–") "
                  + "| \(macs.map { TrainCommand.count($0.update) } ?? "–") | \(ratio) "
                  + "| \(TrainCommand.mebibytes(m.totalBytes)) | \(TrainCommand.mebibytes(m.workingBytes)) | \(TrainCommand.mebibytes(m.peakActivationBytes)) "
                  + "| \(TrainCommand.mebibytes(m.gradientBytes)) | \(TrainCommand.mebibytes(m.parameterBytes + m.optimizerBytes)) "
                  + "| \(TrainCommand.mebibytes(m.ruleStateBytes)) | \(String(format: "%.2f", profile.secondsPerStep)) |")
        }
        print(String(format: "process peak RSS (all rules above, one process): %.0f MiB", Double(Runtime.peakResidentBytes) / 1_048_576))
    }
}
