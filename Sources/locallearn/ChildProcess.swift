import Foundation

/// A `locallearn` child process (one row of `compare` or `suite`). Foundation starts it in its own
/// process group, so Ctrl-C at the terminal reaches only the parent: while the child runs, the
/// parent ignores SIGINT and hands it on, and the child saves what it has and exits 130.
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
        signal(SIGINT, SIG_IGN)
        let child = process.processIdentifier
        let forward = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        forward.setEventHandler { kill(child, SIGINT) }
        forward.resume()
        defer {
            forward.cancel()
            signal(SIGINT, SIG_DFL)
        }
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Ended(status: process.terminationStatus, errors: text)
    }
}
