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
    /// which takes the cores from the elementwise kernels that run between GEMMs; too short a spin
    /// makes every small GEMM wait for a sleeping worker instead. The documented
    /// `OPENBLAS_THREAD_TIMEOUT` setting chooses the spin, but OpenBLAS reads it once, when it loads.
    /// So a program calls this first thing in `main`: when the variable is unset it sets it to 17
    /// (2^17 cycles, ~45 µs) and restarts the process image with the same arguments. Measured on
    /// 2 cores (samples/s, two rounds; MLP = mlp:784-256x5-10:tanh BP, smallconv BP on 12,800 samples):
    /// 2^4: MLP 22.5k/36.5k, smallconv 1,343/1,530; 2^17: 38.2k/40.2k, 1,457/1,511;
    /// 2^28 (OpenBLAS's default): 33.0k/36.7k, 1,223/1,331. A value the user set is left alone.
    public static func restartWithBLASThreadTimeoutIfNeeded() {
        #if os(Linux)
        guard getenv("OPENBLAS_THREAD_TIMEOUT") == nil, getenv("LOCALLEARN_NO_RESTART") == nil else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", "17", 1)
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

    /// From now on the first Ctrl-C (SIGINT) only sets `interruptRequested`; a second exits at once (status 130).
    public static func installInterruptHandler() {
        #if canImport(Glibc)
        locallearn_install_interrupt_handler()
        #endif
    }

    /// Whether Ctrl-C was pressed since `installInterruptHandler()`.
    public static var interruptRequested: Bool {
        #if canImport(Glibc)
        return locallearn_interrupted() != 0
        #else
        return false
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
