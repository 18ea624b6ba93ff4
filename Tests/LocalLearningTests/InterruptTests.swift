import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Ctrl-C on the command-line tool")
struct InterruptTests {
    /// The `locallearn` executable built beside the test bundle.
    static var executable: String? {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("locallearn").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }

    /// Ctrl-C (SIGINT) and `kill` (SIGTERM) alike.
    @Test(arguments: [SIGINT, SIGTERM])
    func anInterruptFinishesTheStepSavesACheckpointAndSaysHowToResume(signal: Int32) throws {
        guard let executable = Self.executable else {
            Issue.record("the locallearn executable was not found beside \(CommandLine.arguments[0]); build it with `swift build`")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ll-sigint-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["train", "--epochs", "500", "--train-limit", "1000", "--threads", "1", "--model", "mlp:784-16-10:relu",
                             "--checkpoint-dir", directory, "--checkpoint-every", "1000"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait for the second epoch's line, then interrupt.
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while !text.contains("epoch   2/500") && Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        #expect(text.contains("epoch   2/500"), "no epoch line: \(text)")
        kill(process.processIdentifier, signal)
        text += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130, "\(text)")
        #expect(text.contains("checkpoint saved in \(directory)/checkpoint.safetensors"), "\(text)")
        #expect(text.contains("resume with: locallearn train --resume \(directory)"))
        let path = "\(directory)/\(TrainingCheckpoint.fileName)"
        let contents = try TrainingCheckpoint.contents(of: Safetensors.read(path), path: path)
        #expect(contents.position.epoch >= 1 && contents.position.epoch < 500)
        #expect(contents.reports.count == contents.position.epoch)
    }
}
