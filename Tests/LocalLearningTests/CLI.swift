import Foundation
import Testing

/// Runs the `locallearn` executable built beside the test bundle and reports how it ended.
enum CLI {
    struct Result {
        var status: Int32
        /// True when the process died of a signal (a Swift trap is SIGILL/SIGTRAP) — never acceptable.
        var signalled: Bool
        var timedOut: Bool
        var output: String
        var errors: String

        /// The `Error: …` line the tool printed, without the prefix.
        var errorLine: String? {
            errors.split(separator: "\n").first { $0.hasPrefix("Error: ") }.map { String($0.dropFirst(7)) }
        }
    }

    /// `LOCALLEARN_EXECUTABLE` names another build to test (e.g. an older one, to see the fuzzer find its traps).
    static var executable: String? { ProcessInfo.processInfo.environment["LOCALLEARN_EXECUTABLE"] ?? InterruptTests.executable }

    /// Runs `arguments` in `directory` (default: the temporary folder, so that no relative output path
    /// lands in the repository), killing it after `timeout` seconds.
    static func run(_ arguments: [String], in directory: String? = nil, timeout: TimeInterval = 60) throws -> Result {
        guard let executable else { throw CLIMissing() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? NSTemporaryDirectory())
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = environment
        // Output to files, not pipes: no reader threads, and nothing for a signal to interrupt mid-read.
        let stem = NSTemporaryDirectory() + "ll-cli-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: stem + ".out", contents: nil)
        FileManager.default.createFile(atPath: stem + ".err", contents: nil)
        defer { unlink(stem + ".out"); unlink(stem + ".err") }
        guard let output = FileHandle(forWritingAtPath: stem + ".out"), let errors = FileHandle(forWritingAtPath: stem + ".err") else {
            throw CLIMissing()
        }
        defer { try? output.close(); try? errors.close() }
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        var timedOut = false
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            process.terminate()
            if finished.wait(timeout: .now() + 5) == .timedOut { kill(process.processIdentifier, SIGKILL); finished.wait() }
        }
        let outData = FileManager.default.contents(atPath: stem + ".out") ?? Data()
        let errData = FileManager.default.contents(atPath: stem + ".err") ?? Data()
        return Result(status: process.terminationStatus,
                      signalled: process.terminationReason == .uncaughtSignal && !timedOut,
                      timedOut: timedOut,
                      output: String(decoding: outData, as: UTF8.self), errors: String(decoding: errData, as: UTF8.self))
    }

    struct CLIMissing: Error, CustomStringConvertible {
        var description: String { "the locallearn executable was not found beside the test bundle; build it with `swift build`" }
    }

    /// A fresh temporary folder.
    static func temporaryFolder(_ tag: String) throws -> String {
        let path = NSTemporaryDirectory() + "ll-\(tag)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
