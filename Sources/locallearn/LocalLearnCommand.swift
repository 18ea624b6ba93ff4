import ArgumentParser
import Foundation
import LocalLearning

@main
struct LocalLearnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locallearn",
        abstract: "Train neural networks with backprop and local learning rules, side by side.",
        subcommands: [TrainCommand.self, CompareCommand.self, SuiteCommand.self, RulesCommand.self, EvalCommand.self, ExportCommand.self, BenchCommand.self, CostsCommand.self, ExperimentCommand.self, RobustnessCommand.self],
        defaultSubcommand: TrainCommand.self
    )

    static func main() {
        Runtime.restartWithBLASThreadTimeoutIfNeeded()
        Runtime.lineBufferStandardOutput()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: plain(error))
        }
    }

    /// The parser's and the commands' own errors pass as they are (one line each); a Foundation file
    /// error or a JSON encoding error, which would print as a dump, becomes one plain line.
    static func plain(_ error: Error) -> Error {
        if let error = error as? EncodingError, case let .invalidValue(value, context) = error {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return CommandError("\(value) cannot be written as JSON\(path.isEmpty ? "" : " (\(path))"): use a finite number")
        }
        if error is DecodingError { return CommandError("a JSON file could not be read: \(String(describing: error).prefix(200))") }
        let bridged = error as NSError
        if bridged.domain == NSCocoaErrorDomain || bridged.domain == NSPOSIXErrorDomain {
            return CommandError(OutputPath.plainReason(error))
        }
        return error
    }
}
