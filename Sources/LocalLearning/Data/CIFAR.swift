/// The CIFAR binary format: fixed-size records of label byte(s) then 3×32×32 channel-major pixels.
/// CIFAR-10 records have 1 label byte; CIFAR-100 records have 2 (coarse, fine) and the fine label is used.
public enum CIFAR {
    public static let imageBytes = 3 * 32 * 32

    public struct Records: Sendable {
        public var images: [UInt8]      // N × 3072
        public var labels: [Int32]
    }

    /// Parses one binary batch file. `labelBytes` is 1 for CIFAR-10, 2 for CIFAR-100.
    public static func parse(_ bytes: [UInt8], path: String, labelBytes: Int, classes: Int) throws -> Records {
        let record = labelBytes + imageBytes
        guard !bytes.isEmpty else { throw DataError.truncated(path: path, expectedBytes: record, actualBytes: 0) }
        guard bytes.count % record == 0 else {
            throw DataError.truncated(path: path, expectedBytes: (bytes.count / record + 1) * record, actualBytes: bytes.count)
        }
        let count = bytes.count / record
        var images = [UInt8](repeating: 0, count: count * imageBytes)
        var labels = [Int32](repeating: 0, count: count)
        for n in 0..<count {
            let start = n * record
            let label = Int(bytes[start + labelBytes - 1])
            guard label < classes else {
                throw DataError.labelOutOfRange(path: path, index: n, label: label, classes: classes)
            }
            labels[n] = Int32(label)
            images.replaceSubrange(n * imageBytes..<(n + 1) * imageBytes,
                                   with: bytes[(start + labelBytes)..<(start + record)])
        }
        return Records(images: images, labels: labels)
    }

    public static func read(_ path: String, labelBytes: Int, classes: Int) throws -> Records {
        try parse(FileBytes.read(path), path: path, labelBytes: labelBytes, classes: classes)
    }
}
