import Foundation
import LocalLearning

/// Output paths checked before any work starts, so a run never trains for an hour and then fails
/// to write its results. Each failure is one line naming the option, the path and the reason.
enum OutputPath {
    /// `path` can be created or replaced as a file (its folder exists and takes writes).
    static func checkFile(_ path: String, option: String) throws {
        var isDirectory: ObjCBool = false
        let existed = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if existed, isDirectory.boolValue { throw CommandError("\(option) \(path): is a folder, not a file") }
        // The real test: open it for writing as the run will (no truncation; a file made here is removed again).
        let descriptor = open(path, O_WRONLY | O_CREAT, 0o644)
        guard descriptor >= 0 else { throw CommandError("\(option) \(path): cannot be written (\(reason(errno: errno)))") }
        close(descriptor)
        if !existed { unlink(path) }
    }

    /// `path` exists as a folder that takes new files (created, with its parents, when missing).
    static func prepareDirectory(_ path: String, option: String) throws {
        // The nearest part of the path that exists must be a folder (mkdir under a file fails without a reason).
        var ancestor = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        while !FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &isDirectory), ancestor.path != "/" {
            ancestor.deleteLastPathComponent()
        }
        guard isDirectory.boolValue else { throw CommandError("\(option) \(path): \(ancestor.path) is a file, not a folder") }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CommandError("\(option) \(path): the folder cannot be created (\(plainReason(error)))")
        }
        try checkFile("\(path)/.locallearn-write-test", option: option)
    }

    /// The plain reason for an `open(2)`-style failure; a missing entry on the way to an output is its folder.
    static func reason(errno code: Int32) -> String {
        code == ENOENT ? "no such folder" : DataError.reason(errno: code)
    }

    /// One plain line for a Foundation file error (which otherwise prints as a dictionary dump).
    static func plainReason(_ error: Error) -> String {
        let error = error as NSError
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return reason(errno: Int32(underlying.code))
        }
        if error.domain == NSPOSIXErrorDomain { return reason(errno: Int32(error.code)) }
        switch CocoaError.Code(rawValue: error.code) {
        case .fileWriteNoPermission, .fileReadNoPermission: return "permission denied"
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
        case .fileWriteVolumeReadOnly: return "read-only file system"
        case .fileWriteOutOfSpace: return "no space left on the device"
        default:
            let path = error.userInfo[NSFilePathErrorKey] as? String
            return (path.map { "\($0): " } ?? "") + "the file operation failed (Foundation error \(error.code))"
        }
    }
}
