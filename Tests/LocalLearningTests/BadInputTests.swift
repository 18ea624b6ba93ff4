import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

/// Issue 19's table, row by row: every bad value gets one line naming it and exit 64 (usage) or 1
/// (data, files, a model a rule cannot train) — never a signal.
@Suite("Bad input: one-line errors, never a trap")
struct BadInputTests {
    static let tiny = ["--epochs", "1", "--train-limit", "64", "--model", "mlp:784-8-10", "--threads", "1"]

    /// (arguments, exit status, text the error line or the output must hold)
    static let refusals: [([String], Int32, String)] = [
        // 1: costs and memory-depth make train's capability check
        (["costs", "--rules", "bp,auglocal"], 0, "auglocal | not applicable: AugLocal builds its auxiliary networks"),
        (["costs", "--rules", "auglocal", "--model", "mlp:784-64-10", "--input", "784"], 0, "not applicable"),
        (["costs", "--rules", "reclra", "--model", "vit:patch4-dim8-depth1-heads2", "--input", "3x8x8"], 0, "reclra | not applicable: rec-LRA trains blocks"),
        (["costs", "--rules", "reclra", "--model", "mlp:784-16-10:dropout0.2", "--input", "784"], 0, "not applicable"),
        (["experiment", "memory-depth", "--rules", "auglocal", "--depths", "2", "--width", "8"], 0, "not applicable"),
        (["experiment", "memory-depth", "--rules", "sll", "--depths", "1,2", "--model", "vit:patch4-dim8-depth{D}-heads2", "--shape", "1x8x8",
          "--threads", "1"], 0, "sll: from D = 1 to D = 2 working memory"),
        (["experiment", "memory-depth", "--model", "vit:patch4-dim8-depth2"], 64, "has no {D} where the depth goes"),
        (["experiment", "memory-depth", "--shape", "3x32x32"], 64, "--shape applies to --model"),
        (["experiment", "memory-depth", "--local-unit", "0"], 64, "--local-unit must be in 1…"),
        (["robustness", "--checkpoint", "nowhere", "--json", "/dev/null/x"], 1, "--json /dev/null/x: cannot be written (a part of the path is not a folder)"),
        (["costs", "--model", "vit:patch4", "--input", "3x32"], 64, "3x32"),
        (["costs", "--model", "vit:patch5", "--input", "3x32x32", "--rules", "bp"], 64, "multiples of the patch 5"),
        // 2
        (["train", "--rule", "sll", "--sll-codes", "5"] + tiny, 1, "--sll-codes 5 is fewer than the 10 classes"),
        // Rule options: declared by the rule, checked by it, refused for other rules
        (["train", "--rule", "bp", "--sll-codes", "32"] + tiny, 64, "--sll-codes is an option of sll, not of bp"),
        (["train", "--rule", "sll", "--sll-tap", "middle"] + tiny, 64, "unknown --sll-tap 'middle'; expected one of: before-pooling, after-pooling"),
        (["train", "--rule", "sll", "--sll-dropout", "1"] + tiny, 64, "--sll-dropout must be in [0, 1), got '1'"),
        (["train", "--rule", "sll", "--sll-codes"] + tiny, 64, "--sll-codes needs a value"),
        (["train", "--rule", "lls", "--no-such-option", "3"] + tiny, 64, "unknown option '--no-such-option'"),
        (["train", "--rule", "pepita", "--model", "cnn:4:fc8", "--epochs", "1", "--train-limit", "64", "--threads", "1"], 1,
         "rule pepita cannot train cnn:4:fc8: PEPITA: block conv1 is Conv2D"),
        (["compare", "--rules", "bp", "--set", "bp.sll-codes=3"], 64, "unknown key 'sll-codes'"),
        (["compare", "--rules", "sll", "--set", "sll.sll-codes=-3"], 64, "--sll-codes must be a whole number"),
        // 3, 15, 19: optimizer hyperparameters
        (["train", "--weight-decay=-1"] + tiny, 64, "--weight-decay must be a number ≥ 0, got -1.0"),
        (["train", "--weight-decay", "nan"] + tiny, 64, "--weight-decay must be a number ≥ 0, got nan"),
        (["train", "--weight-decay", "inf"] + tiny, 64, "--weight-decay must be a number ≥ 0, got inf"),
        (["train", "--optimizer", "sgd", "--momentum", "nan"] + tiny, 64, "--momentum must be in [0, 1)"),
        (["train", "--optimizer", "sgd", "--momentum=-1"] + tiny, 64, "--momentum must be in [0, 1)"),
        (["train", "--optimizer", "sgd", "--momentum", "1"] + tiny, 64, "--momentum must be in [0, 1)"),
        (["train", "--optimizer", "sgd", "--momentum", "2"] + tiny, 64, "--momentum must be in [0, 1)"),
        (["train", "--optimizer", "adamw", "--weight-decay=-0.5"] + tiny, 64, "--weight-decay must be a number ≥ 0"),
        (["train", "--optimizer", "rmsprop"] + tiny, 64, "rmsprop"),
        // 4, 9
        (["train", "--train-limit=-5", "--epochs", "1"], 64, "--train-limit must be at least 1 sample, got -5"),
        (["train", "--train-limit", "0", "--epochs", "1"], 64, "--train-limit must be at least 1 sample, got 0"),
        // 5
        (["eval", "--checkpoint", "nowhere", "--batch-size", "0"], 64, "--batch-size must be at least 1, got 0"),
        // 6: specs too large for the machine, refused with the estimate before anything is allocated
        (["train", "--model", "mlp:784-100000000-10"], 64, "more than this machine's"),
        (["train", "--model", "cnn:100000000"], 64, "more than this machine's"),
        (["train", "--model", "mlp:784-9223372036854775807-10"], 64, "over 8 EiB"),
        (["train", "--model", "mlp:784-3000000-10"], 64, "needs about"),
        (["train", "--model", "mlp:784-256x100000-10"], 64, "more than 10000 layers"),
        (["train", "--model", "resnet:100000"], 64, "at most 10000 are supported"),
        (["costs", "--model", "mlp:784-100000000-10", "--input", "784", "--rules", "bp"], 64, "more than this machine's"),
        // 7: residual units are timed whole (their body and shortcut take different inputs)
        (["bench", "--only", "layers", "--model", "resnet:1", "--input", "3x8x8", "--threads", "1"], 0, "total"),
        // 13
        (["compare", "--rules", "bp", "--set", "bp.lr=0"], 64, "rule bp with its recipe and --set: --lr must be a positive number"),
        // 16: output paths checked before any work
        (["compare", "--rules", "bp", "--out", "/proc/x"], 1, "--out /proc/x: the folder cannot be created"),
        // (as root every folder is writable, so the unwritable paths lie under a file or in /proc)
        (["bench", "--only", "kernels", "--json", "/dev/null/x.json"], 1, "--json /dev/null/x.json: cannot be written (a part of the path is not a folder)"),
        (["experiment", "fa-conservation", "--data-dir", "/dev/null/mnist", "--markdown", "/dev/null/x.md"], 1, "--markdown /dev/null/x.md"),
        (["train", "--log", "/dev/null/x.jsonl"] + tiny, 1, "--log /dev/null/x.jsonl: cannot be written"),
        (["train", "--checkpoint-dir", "/proc/ck"] + tiny, 1, "--checkpoint-dir /proc/ck: the folder cannot be created"),
        // 19
        (["train", "--warmup-epochs=-1"] + tiny, 64, "--warmup-epochs must be ≥ 0, got -1"),
        (["train", "--val-split", "1"] + tiny, 64, "--val-split must be a fraction in [0, 1), got 1.0"),
        (["train", "--val-split", "0.001"] + tiny, 1, "--val-split 0.001 of 64 training samples holds out 0"),
        (["train", "--model", "mlp:784-16-10:leakyrelu-5", "--epochs", "1"], 64, "unknown option 'leakyrelu-5'"),
        (["bench", "--only", "foo"], 64, "unknown --only part 'foo'"),
    ]

    @Test(arguments: refusals)
    func refusedWithOneLine(_ arguments: [String], status: Int32, text: String) throws {
        let result = try CLI.run(arguments)
        #expect(!result.signalled && !result.timedOut, "\(arguments): \(result.errors.suffix(500))")
        #expect(result.status == status, "\(arguments): exit \(result.status)\n\(result.errors.suffix(500))")
        if status == 0 {
            #expect(result.output.contains(text), "\(arguments): \(result.output.suffix(800))")
        } else {
            let line = result.errorLine ?? ""
            #expect(line.contains(text), "\(arguments): \(result.errors)")
            #expect(!result.errors.contains("Backtrace") && !result.errors.contains("NSCocoaErrorDomain"))
        }
    }

    @Test func yamlValuesAreValidatedLikeCommandLineOnes() throws {
        let folder = try CLI.temporaryFolder("yaml")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (yaml, text) in [("weight-decay: -1", "--weight-decay must be a number ≥ 0, got -1.0"),
                             ("optimizer: sgd\nmomentum: .nan", "--momentum must be in [0, 1)"),
                             ("train-limit: -5", "--train-limit must be at least 1 sample, got -5"),
                             ("optimizer: rmsprop", "key 'optimizer': unknown value 'rmsprop'")] {
            let path = "\(folder)/bad.yaml"
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try CLI.run(["train", "--config", path, "--epochs", "1"])
            #expect(result.status == 1 && !result.signalled, "\(yaml): \(result.errors)")
            let line = result.errorLine ?? ""
            #expect(line.contains(text) || (yaml.contains(".nan") && line.contains("momentum")), "\(yaml): \(result.errors)")
        }
    }

    @Test func onNonFiniteSkipBatchSaysHowManyItSkipped() throws {
        let result = try CLI.run(["train", "--lr", "1e30", "--optimizer", "sgd", "--on-nan", "skip-batch", "--epochs", "1",
                                  "--train-limit", "4000", "--model", "mlp:784-32-10:relu", "--threads", "1"])
        #expect(result.status == 1 && !result.signalled)
        #expect(result.errorLine?.contains("--on-nan skip-batch had skipped the 10 batches before it") == true, "\(result.errors)")
    }

    @Test func specsArePresetsWithOptionsAndTheirFootprintIsEstimatedWithoutAllocating() throws {
        let model = try ModelSpec.build("smallconv:tanh", inputShape: [1, 28, 28], classes: 10)
        #expect(model.layers.contains { ($0 as? Activation)?.function == .tanh })
        #expect(!model.layers.contains { ($0 as? Activation)?.function == .leakyReLU(slope: 0.01) })
        #expect(throws: ModelError.self) { try ModelSpec.build("resnet20:tanh", inputShape: [3, 32, 32], classes: 10) }
        // The estimate counts the same parameters the built model holds (weights and biases; BN's 2·C and running stats aside).
        for spec in ["mlp:784-256x2-10", "mlp:784-64-10"] {
            let built = try ModelSpec.build(spec, inputShape: [1, 28, 28], classes: 10)
            #expect(try ModelSpec.footprint(spec, inputShape: [1, 28, 28], classes: 10).parameters == built.parameterCount)
        }
        let resnet = try ModelSpec.footprint("resnet20", inputShape: [3, 32, 32], classes: 10)
        let built = try ModelSpec.build("resnet20", inputShape: [3, 32, 32], classes: 10).parameterCount
        #expect(abs(Double(resnet.parameters) / Double(built) - 1) < 0.05, "\(resnet.parameters) vs \(built)")
        #expect(throws: ModelError.self) {
            try ModelSpec.footprint("mlp:784-100000-10", inputShape: [784], classes: 10).check("x", batchSize: 128, memoryBytes: 1 << 30)
        }
        #expect(ActivationFunction(name: "leakyrelu-5") == nil && ActivationFunction(name: "leakyrelu0.2") == .leakyReLU(slope: 0.2))
    }

    @Test func optimizerHyperparametersHaveOneCheck() {
        #expect(OptimizerKind.sgd.refusal(learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4) == nil)
        for (lr, momentum, decay) in [(Float(0), Float(0.9), Float(0)), (.nan, 0.9, 0), (0.1, 1, 0), (0.1, -0.1, 0),
                                      (0.1, .nan, 0), (0.1, 0.9, -1), (0.1, 0.9, .infinity), (.infinity, 0.9, 0)] {
            #expect(OptimizerKind.adamw.refusal(learningRate: lr, momentum: momentum, weightDecay: decay) != nil, "\(lr) \(momentum) \(decay)")
        }
    }

    @Test func sllAndAugLocalRefuseModelsTheyCannotTrainInsteadOfTrapping() throws {
        let mlp = try ModelSpec.build("mlp:784-32-10", inputShape: [784], classes: 10)
        var configuration = SLL.Configuration()
        configuration.codes = 5
        #expect(SLL(configuration).refusal(for: mlp)?.contains("fewer than the 10 classes") == true)
        #expect(throws: ModelError.self) {
            try CostProfile.measure(rule: "auglocal", spec: "mlp:784-32-10", inputShape: [784], classes: 10, batchSize: 4)
        }
    }
}
