import ArgumentParser
import Foundation
import LocalLearning

extension TrainCommand {
    struct Summary: Codable {
        var finalTestAccuracy: Double
        var bestTestAccuracy: Double
        var bestEpoch: Int
        var elapsedSeconds: Double
        var peakResidentBytes: Int
        /// With a validation split: the epoch of the best validation accuracy and the test accuracy then.
        var bestValidationEpoch: Int?
        var testAccuracyAtBestValidation: Double?
    }

    /// 1234567 → "1.23 M".
    static func count(_ n: Int) -> String {
        switch n {
        case 1_000_000_000...: String(format: "%.2f G", Double(n) / 1e9)
        case 1_000_000...: String(format: "%.2f M", Double(n) / 1e6)
        case 1_000...: String(format: "%.1f k", Double(n) / 1e3)
        default: "\(n)"
        }
    }

    static func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    static func format(_ r: EpochReport, epochs: Int) -> String {
        let width = String(epochs).count
        let epoch = String(repeating: " ", count: max(0, width - String(r.epoch).count)) + String(r.epoch)
        let validation = (r.validationAccuracy.map { String(format: "  val acc %6.2f%%", $0 * 100) } ?? "")
            + (r.testTop5Accuracy.map { String(format: "  test top-5 %6.2f%%", $0 * 100) } ?? "")
        return String(format: "epoch %@/%d  train loss %.4f acc %6.2f%%%@  test loss %.4f acc %6.2f%% (best %6.2f%%)  %8.0f samples/s  %6.1f s  [%.0f s]",
                      epoch, epochs, r.trainLoss, r.trainAccuracy * 100, validation, r.testLoss, r.testAccuracy * 100,
                      r.bestTestAccuracy * 100, r.samplesPerSecond, r.trainSeconds, r.elapsedSeconds)
    }
}

/// A single self-overwriting status line on standard error (only when it is a terminal).
final class ProgressLine {
    private let enabled: Bool
    private var lastDraw = DispatchTime.now().uptimeNanoseconds

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ text: String, fraction: Double) {
        guard enabled else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - lastDraw > 100_000_000 || fraction >= 1 else { return }
        lastDraw = now
        let filled = Int(fraction * 20)
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: 20 - filled)
        FileHandle.standardError.write("\r\u{1B}[K[\(bar)] \(text)".data(using: .utf8)!)
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!)
    }
}

/// A failure found while running a command: printed as one `Error:` line, without the usage text.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
