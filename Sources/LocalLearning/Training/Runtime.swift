#if canImport(Glibc)
import CPlatform
import Glibc
#endif

/// Process-wide settings for training runs.
public enum Runtime {
    /// Sets OpenBLAS's and the elementwise kernels' thread count, and keeps large freed buffers in the heap, so the per-step
    /// activation tensors are recycled instead of being unmapped and page-faulted in again.
    public static func configure(threads: Int) {
        BLAS.setThreadCount(threads)
        Parallel.threadCount = max(1, threads)
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)   // glibc's largest allowed value
        _ = mallopt(M_TRIM_THRESHOLD, 1 << 30)
        #endif
    }

    /// OpenBLAS's worker threads spin (yielding) for 2^28 cycles after each call before they sleep,
    /// which takes the cores from the elementwise kernels that run between GEMMs. The documented
    /// `OPENBLAS_THREAD_TIMEOUT` setting shortens that, but OpenBLAS reads it once, when it loads.
    /// So a program calls this first thing in `main`: when the variable is unset it sets it to 4
    /// (2^4 cycles) and restarts the process image with the same arguments. Measured on 2 cores:
    /// smallconv BP 1,013 → 1,323 samples/s. A value the user set is left alone.
    public static func restartWithBLASThreadTimeoutIfNeeded() {
        #if os(Linux)
        guard getenv("OPENBLAS_THREAD_TIMEOUT") == nil, getenv("LOCALLEARN_NO_RESTART") == nil else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
        let arguments = CommandLine.unsafeArgv
        execv("/proc/self/exe", arguments)
        // execv returns only on failure: carry on with OpenBLAS's default.
        #endif
    }

    /// Line-buffers standard output, so each epoch's line appears at once even in a redirected log.
    public static func lineBufferStandardOutput() {
        #if canImport(Glibc)
        locallearn_line_buffer_stdout()
        #endif
    }

    /// The process's peak resident set size in bytes (0 where unknown).
    public static var peakResidentBytes: Int {
        #if canImport(Glibc)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
        #else
        return 0
        #endif
    }
}
