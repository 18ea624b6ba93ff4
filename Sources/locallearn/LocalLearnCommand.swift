import ArgumentParser
import Foundation
import LocalLearning

@main
struct LocalLearnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locallearn",
        abstract: "Train neural networks with backprop and local learning rules, side by side.",
        subcommands: [TrainCommand.self, CompareCommand.self, EvalCommand.self, ExportCommand.self, BenchCommand.self, CostsCommand.self, ExperimentCommand.self],
        defaultSubcommand: TrainCommand.self
    )

    static func main() {
        Runtime.restartWithBLASThreadTimeoutIfNeeded()
        Runtime.lineBufferStandardOutput()
        main(nil)
    }
}
