import Foundation
import LocalLearning

/// A `locallearn` child process (one row of `compare` or `suite`). Foundation starts it in its own
/// process group, so Ctrl-C at the terminal reaches only the parent: the parent hands it on once,
/// and the child saves what it has and exits 130.
enum ChildProcess {
    struct Ended {
        var status: Int32
        var errors: String

        /// The child's own one-line error (not the usage hint the parser prints after it), or its last line.
        var message: String {
            let lines = errors.split(separator: "\n").map(String.init)
            return lines.first { $0.hasPrefix("Error: ") }.map { String($0.dropFirst(7)) } ?? lines.last ?? "exit status \(status)"
        }
    }

    /// Runs this executable with `arguments`, its standard output shared, its standard error captured.
    static func run(_ arguments: [String]) throws -> Ended {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        // The first Ctrl-C only sets a flag (a real handler, so it works even where the shell started
        // this process with SIGINT ignored, as it does for background jobs); the child gets it once.
        Runtime.installInterruptHandler()
        let reader = DispatchQueue(label: "child-stderr")
        nonisolated(unsafe) var captured = Data()
        let drained = DispatchSemaphore(value: 0)
        reader.async {
            captured = errors.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        var forwarded = false
        while process.isRunning {
            if Runtime.interruptRequested, !forwarded {
                kill(process.processIdentifier, SIGINT)
                forwarded = true
            }
            usleep(50_000)
        }
        drained.wait()
        process.waitUntilExit()
        let text = String(decoding: captured, as: UTF8.self)
        return Ended(status: process.terminationStatus, errors: text)
    }
}
