#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Replaces a file atomically: the bytes go to a temporary file in the same folder, which is
/// flushed to disk (fsync) and renamed over the target, and the folder is synced. A crash at any
/// moment leaves either the old file or the new one, never a mix.
public enum AtomicFile {
    /// `beforeRename` runs after the temporary file is complete and synced (tests simulate a crash there).
    public static func write(_ bytes: [UInt8], to path: String, beforeRename: () throws -> Void = {}) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = "\(folder)/.\(url.lastPathComponent).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CheckpointError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        var written = 0
        let ok: Bool = bytes.withUnsafeBytes { raw in
            while written < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return fsync(fd) == 0
        }
        let reason = String(cString: strerror(errno))
        close(fd)
        guard ok else {
            unlink(temporary)
            throw CheckpointError.writeFailed(path: path, reason: reason)
        }
        try beforeRename()
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CheckpointError.writeFailed(path: path, reason: reason)
        }
        let directory = open(folder.isEmpty ? "." : folder, O_RDONLY)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }
}
