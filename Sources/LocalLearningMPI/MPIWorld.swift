import CMPI
import Foundation

/// The processes started by `mpirun`, through Open MPI. One per process: `shared` initialises MPI on
/// first use (funneled: only the main thread calls MPI) and `finalize` ends it.
public final class MPIWorld: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let comm = llmpi_comm_world()

    /// Whether this process was started by Open MPI's `mpirun` with more than one rank.
    public static var isLaunchedWithSeveralRanks: Bool {
        Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] ?? "") ?? 1 > 1
    }

    nonisolated(unsafe) private static var instance: MPIWorld?

    /// The world, initialising MPI the first time.
    public static var shared: MPIWorld {
        if let instance { return instance }
        var provided: Int32 = 0
        _ = MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(llmpi_comm_world(), &rank)
        MPI_Comm_size(llmpi_comm_world(), &size)
        let world = MPIWorld(rank: Int(rank), size: Int(size))
        instance = world
        return world
    }

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    /// Ends MPI (after every rank's last call).
    public static func finalize() {
        guard instance != nil else { return }
        MPI_Finalize()
        instance = nil
    }

    /// Stops every rank at once (after an error on one).
    public func abort(code: Int32) -> Never {
        MPI_Abort(comm, code)
        exit(code)
    }

    public func send(_ bytes: [UInt8], to destination: Int, tag: Int) {
        bytes.withUnsafeBytes { raw in
            _ = MPI_Send(raw.baseAddress, Int32(raw.count), llmpi_byte(), Int32(destination), Int32(tag), comm)
        }
    }

    /// The next message from `source` (with any tag, or `tag`): its bytes and tag.
    public func receive(from source: Int, tag: Int? = nil) -> (bytes: [UInt8], tag: Int) {
        var status = MPI_Status()
        MPI_Probe(Int32(source), Int32(tag ?? Int(llmpi_any_tag())), comm, &status)
        var count: Int32 = 0
        MPI_Get_count(&status, llmpi_byte(), &count)
        var bytes = [UInt8](repeating: 0, count: Int(count))
        bytes.withUnsafeMutableBytes { raw in
            _ = MPI_Recv(raw.baseAddress, count, llmpi_byte(), Int32(source), status.MPI_TAG, comm, llmpi_status_ignore())
        }
        return (bytes, Int(status.MPI_TAG))
    }

    /// Whether a message from `source` with `tag` is waiting.
    public func hasMessage(from source: Int, tag: Int) -> Bool {
        var flag: Int32 = 0
        var status = MPI_Status()
        MPI_Iprobe(Int32(source), Int32(tag), comm, &flag, &status)
        return flag != 0
    }

    /// Element-wise sum over all ranks, in place; every rank gets the same result.
    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) {
        _ = MPI_Allreduce(llmpi_in_place(), values.baseAddress, Int32(values.count), llmpi_float(), llmpi_sum(), comm)
    }

    public func allreduceSum(_ values: inout [Float]) {
        values.withUnsafeMutableBufferPointer { allreduceSum($0) }
    }

    /// `root`'s values, copied to every rank.
    public func broadcast(_ values: UnsafeMutableBufferPointer<Float>, root: Int) {
        _ = MPI_Bcast(values.baseAddress, Int32(values.count), llmpi_float(), Int32(root), comm)
    }

    public func barrier() { MPI_Barrier(comm) }
}
