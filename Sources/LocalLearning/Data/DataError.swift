import Foundation

/// Why a dataset file could not be read. Every case names the file.
public enum DataError: Error, Equatable, CustomStringConvertible {
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case badMagic(path: String, found: UInt32, expected: String)
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    case badDimensions(path: String, reason: String)
    case countMismatch(images: String, imageCount: Int, labels: String, labelCount: Int)
    case labelOutOfRange(path: String, index: Int, label: Int, classes: Int)
    case corruptCompression(path: String, reason: String)
    case missingDirectory(path: String, expected: String)
    case empty(path: String, split: String)

    public var description: String {
        switch self {
        case let .missing(path):
            return "\(path): file not found"
        case let .unreadable(path, reason):
            return "\(path): cannot be read (\(reason))"
        case let .badMagic(path, found, expected):
            return "\(path): bad magic number 0x\(String(found, radix: 16, uppercase: true)), expected \(expected)"
        case let .truncated(path, expected, actual):
            return "\(path): truncated: the header declares \(expected) bytes, the file holds \(actual)"
        case let .badDimensions(path, reason):
            return "\(path): \(reason)"
        case let .countMismatch(images, n, labels, m):
            return "\(images) holds \(n) images but \(labels) holds \(m) labels"
        case let .labelOutOfRange(path, index, label, classes):
            return "\(path): label \(label) at index \(index) is out of range 0..<\(classes)"
        case let .corruptCompression(path, reason):
            return "\(path): corrupt gzip data (\(reason))"
        case let .missingDirectory(path, expected):
            return "\(path): data directory not found (expected \(expected))"
        case let .empty(path, split):
            return "\(path): the \(split) split holds no samples; training and evaluation need at least one"
        }
    }

    /// The plain reason for an `open(2)`/`mkdir(2)`-style failure (the CLI's output checks use it too).
    public static func reason(errno code: Int32) -> String {
        switch code {
        case EACCES, EPERM: "permission denied"
        case ENOENT: "file not found"
        case EISDIR: "a folder, not a file"
        case EROFS: "read-only file system"
        case ENOTDIR: "a part of the path is not a folder"
        case ENOSPC: "no space left on the device"
        default: String(cString: strerror(code))
        }
    }
}
