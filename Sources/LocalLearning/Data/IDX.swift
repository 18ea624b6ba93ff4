/// The IDX format of MNIST and Fashion-MNIST: big-endian magic 0x0000_08_NN (unsigned bytes, NN
/// dimensions), one u32 per dimension, then the raw u8 data.
public enum IDX {
    public struct Array: Sendable {
        public var dimensions: [Int]
        public var bytes: [UInt8]
    }

    /// Parses IDX `bytes` of unsigned-byte data with `expectedRank` dimensions. `path` names the file in errors.
    public static func parse(_ bytes: [UInt8], path: String, expectedRank: Int) throws -> Array {
        guard bytes.count >= 4 else {
            throw DataError.truncated(path: path, expectedBytes: 4, actualBytes: bytes.count)
        }
        let magic = readUInt32(bytes, at: 0)
        let expectedMagic = UInt32(0x0800) | UInt32(expectedRank)
        guard magic == expectedMagic else {
            throw DataError.badMagic(path: path, found: magic,
                                     expected: "0x\(String(expectedMagic, radix: 16, uppercase: true)) (IDX unsigned bytes, \(expectedRank) dimensions)")
        }
        let headerBytes = 4 + 4 * expectedRank
        guard bytes.count >= headerBytes else {
            throw DataError.truncated(path: path, expectedBytes: headerBytes, actualBytes: bytes.count)
        }
        let dimensions = (0..<expectedRank).map { Int(readUInt32(bytes, at: 4 + 4 * $0)) }
        // Multiply with overflow checks so a hostile header cannot wrap around.
        var payload = 1
        for d in dimensions {
            let (product, overflow) = payload.multipliedReportingOverflow(by: d)
            guard !overflow else { throw DataError.badDimensions(path: path, reason: "dimensions \(dimensions) overflow") }
            payload = product
        }
        let expected = headerBytes + payload
        guard bytes.count >= expected else {
            throw DataError.truncated(path: path, expectedBytes: expected, actualBytes: bytes.count)
        }
        guard bytes.count == expected else {
            throw DataError.badDimensions(path: path, reason: "\(bytes.count - expected) unexpected bytes after the data")
        }
        return Array(dimensions: dimensions, bytes: Swift.Array(bytes[headerBytes..<expected]))
    }

    /// Reads an IDX file, gzipped or raw.
    public static func read(_ path: String, expectedRank: Int) throws -> Array {
        try parse(FileBytes.read(path), path: path, expectedRank: expectedRank)
    }

    /// Encodes an IDX file (used to make fixtures and the embedded subset).
    public static func encode(dimensions: [Int], bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for d in dimensions { out += withUnsafeBytes(of: UInt32(d).bigEndian, Swift.Array.init) }
        return out + bytes
    }

    @inline(__always)
    static func readUInt32(_ b: [UInt8], at i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
}
