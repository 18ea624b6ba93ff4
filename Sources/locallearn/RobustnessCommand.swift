import ArgumentParser
import Foundation
import LocalLearning
import LocalLearningTools

extension Robustness.Attack: ExpressibleByArgument {}

/// Accuracy of a saved network under white-box FGSM and PGD attacks and Gaussian noise.
struct RobustnessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "robustness",
        abstract: "Accuracy of saved weights under FGSM and PGD (exact input gradients, whatever rule trained them) and Gaussian noise.",
        discussion: """
        ε is an L∞ budget on pixels in [0, 1] (before the run's standardisation), e.g. 2/255,4/255,8/255. \
        FGSM: x + ε·sign(∇ₓL); PGD: --steps steps of size --step-size (default 2.5·ε/steps) from a random \
        start in the ε-ball, projected back onto it and onto [0, 1]; noise: x + N(0, ε²), the control. The \
        gradient is the evaluated network's own (running BatchNorm statistics, no dropout).
        """
    )

    @OptionGroup var saved: SavedRunOptions

    @Option(help: "Attacks, comma-separated: fgsm, pgd, noise.")
    var attack = "fgsm,pgd,noise"

    @Option(help: "Budgets ε, comma-separated; a/b fractions allowed (2/255).")
    var eps = "2/255,4/255,8/255"

    @Option(help: "PGD steps.")
    var steps = 10

    @Option(help: "PGD step size α (default 2.5·ε/steps).")
    var stepSize: Float?

    @Flag(help: "PGD from the clean image instead of a random point of the ε-ball.")
    var noRandomStart = false

    @Option(help: "Attack only the first N test samples.")
    var limit: Int?

    @Option(help: "Also write the table as JSON records (attack, epsilon, accuracy, loss) to this file.")
    var json: String?

    @Option(help: "Batch size.")
    var batchSize = 256

    @Option(help: "Seed of PGD's random starts and of the noise.")
    var seed: UInt64 = 1

    @Option(help: "BLAS threads (default: all cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    var attacks: [Robustness.Attack] { attack.split(separator: ",").compactMap { Robustness.Attack(rawValue: String($0)) } }

    /// `eps` as numbers (a/b fractions read as divisions).
    var budgets: [Float]? {
        let values = eps.split(separator: ",", omittingEmptySubsequences: false).map { token -> Float? in
            let parts = token.split(separator: "/", omittingEmptySubsequences: false).map { Float($0) }
            guard (1...2).contains(parts.count), parts.allSatisfy({ $0 != nil }) else { return nil }
            return parts.count == 1 ? parts[0]! : parts[0]! / parts[1]!
        }
        guard values.allSatisfy({ $0.map { $0.isFinite && $0 >= 0 && $0 <= 1 } ?? false }) else { return nil }
        return values.compactMap { $0 }
    }

    func validate() throws {
        guard !attacks.isEmpty, attacks.count == attack.split(separator: ",", omittingEmptySubsequences: false).count else {
            throw ValidationError("--attack must list some of fgsm, pgd, noise, got '\(attack)'")
        }
        guard budgets != nil else { throw ValidationError("--eps must be numbers or fractions in [0, 1] such as 2/255,8/255, got '\(eps)'") }
        guard steps >= 1, steps <= 10_000 else { throw ValidationError("--steps must be in 1…10000, got \(steps)") }
        if let stepSize, !(stepSize > 0 && stepSize.isFinite) { throw ValidationError("--step-size must be a positive number, got \(stepSize)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard threads >= 1, threads <= 1024 else { throw ValidationError("--threads must be in 1…1024, got \(threads)") }
        if let json { try OutputPath.checkFile(json, option: "--json") }
    }

    func run() throws {
        Runtime.configure(threads: threads)
        let setup = try saved.setup(batchSize: batchSize)
        let test = setup.test.prefix(limit)
        var settings = Robustness.Settings()
        (settings.steps, settings.stepSize, settings.randomStart, settings.seed) = (steps, stepSize, !noRandomStart, seed)
        print("robustness: \(setup.spec) on \(setup.dataset.rawValue), \(test.count) test samples, PGD \(steps) steps"
              + (noRandomStart ? "" : " from a random start"))
        let clean = Robustness.evaluate(setup.network, on: test, attack: nil, epsilon: 0, standardization: setup.standardization,
                                        batchSize: batchSize)
        print("| attack | ε | accuracy | loss |")
        print("|---|---|---:|---:|")
        print(String(format: "| clean | 0 | %.2f%% | %.4f |", clean.accuracy * 100, clean.loss))
        var records = [RobustnessTable.Record(attack: "clean", epsilon: "0", accuracy: Double(clean.accuracy), loss: Double(clean.loss))]
        let labels = eps.split(separator: ",").map(String.init)
        for kind in attacks {
            for (label, epsilon) in zip(labels, budgets ?? []) {
                let result = Robustness.evaluate(setup.network, on: test, attack: kind, epsilon: epsilon, settings: settings,
                                                 standardization: setup.standardization, batchSize: batchSize)
                print(String(format: "| %@ | %@ | %.2f%% | %.4f |", kind.rawValue, label, result.accuracy * 100, result.loss))
                records.append(RobustnessTable.Record(attack: kind.rawValue, epsilon: label, accuracy: Double(result.accuracy), loss: Double(result.loss)))
            }
        }
        if let json {
            do { try RobustnessTable.write(records, to: json) } catch { throw CommandError("cannot write --json \(json): \(OutputPath.plainReason(error))") }
        }
    }
}
