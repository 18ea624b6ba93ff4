import ArgumentParser

/// A per-sample input shape on the command line: `CxHxW` (e.g. 3x32x32) or a feature count.
struct SampleShape: ExpressibleByArgument, CustomStringConvertible {
    let dimensions: [Int]

    init?(argument: String) {
        let parts = argument.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 1 || parts.count == 3, parts.allSatisfy({ $0 != nil && $0! > 0 && $0! <= 1 << 24 }) else { return nil }
        dimensions = parts.map { $0! }
    }

    var description: String { dimensions.map(String.init).joined(separator: "x") }
    static var defaultCompletionKind: CompletionKind { .default }
}
