import Dispatch

/// Splits independent work over the cores the run was given (`Runtime.configure(threads:)`).
///
/// Each index's work must write memory no other index writes, and must not depend on how the range
/// is split: then results are identical for every thread count.
public enum Parallel {
    nonisolated(unsafe) public static var threadCount = 1

    /// Calls `body` on contiguous sub-ranges of 0..<count, in parallel when `count · costPerItem`
    /// is large enough to pay for waking threads (about 32k element-operations per thread).
    @inline(__always)
    public static func forRanges(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        let threads = min(threadCount, count, max(1, count * costPerItem / 32_768))
        if threads <= 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                shared.value(t * count / threads..<(t + 1) * count / threads)
            }
        }
    }
}

/// Wraps a value the compiler cannot prove Sendable, for work whose disjointness is checked by hand.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
