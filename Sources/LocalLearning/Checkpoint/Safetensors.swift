import Foundation

/// The safetensors format (as written by the `safetensors` library): an 8-byte little-endian header
/// length N, N bytes of JSON — `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
/// …, "__metadata__": {"key": "value"}}` — then the tensors' raw little-endian bytes, offsets relative
/// to the end of the header. Files written here list tensors in name order, back to back, with the
/// header padded by spaces to a multiple of 8 bytes; any reader (PyTorch, NumPy, safetensors) opens them.
public enum Safetensors {
    public enum DType: String, Sendable, CaseIterable {
        case f32 = "F32", f64 = "F64", i32 = "I32", i64 = "I64", u64 = "U64", u8 = "U8"

        public var size: Int {
            switch self {
            case .f32, .i32: 4
            case .f64, .i64, .u64: 8
            case .u8: 1
            }
        }
    }

    /// One tensor: its element type, shape and raw little-endian bytes.
    public struct Entry: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        public var bytes: [UInt8]

        public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        public init(_ tensor: Tensor) {
            self.init(dtype: .f32, shape: tensor.shape, bytes: tensor.withUnsafeBufferPointer { p in
                p.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
            })
        }

        public init(_ values: [UInt64]) {
            self.init(dtype: .u64, shape: [values.count], bytes: values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) })
        }
    }

    /// A whole file: named tensors and string metadata.
    public struct File: Sendable, Equatable {
        public var tensors: [String: Entry] = [:]
        public var metadata: [String: String] = [:]

        public init(tensors: [String: Entry] = [:], metadata: [String: String] = [:]) {
            self.tensors = tensors
            self.metadata = metadata
        }

        /// The F32 tensor `name`, checked against `shape` when given.
        public func tensor(_ name: String, shape: [Int]? = nil, path: String = "checkpoint") throws -> Tensor {
            guard let entry = tensors[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
            guard entry.dtype == .f32 else { throw CheckpointError.wrongTensor(path: path, name: name, reason: "dtype \(entry.dtype.rawValue), expected F32") }
            if let shape, entry.shape != shape {
                throw CheckpointError.wrongTensor(path: path, name: name, reason: "shape \(entry.shape), expected \(shape)")
            }
            let count = entry.shape.reduce(1, *)
            return Tensor(uninitializedShape: entry.shape) { out in
                entry.bytes.withUnsafeBytes { raw in
                    for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                }
            }
        }

        /// The U64 vector `name`.
        public func unsignedIntegers(_ name: String, path: String = "checkpoint") throws -> [UInt64] {
            guard let entry = tensors[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
            guard entry.dtype == .u64, entry.shape.count == 1 else {
                throw CheckpointError.wrongTensor(path: path, name: name, reason: "\(entry.dtype.rawValue) \(entry.shape), expected a U64 vector")
            }
            return entry.bytes.withUnsafeBytes { raw in
                (0..<entry.shape[0]).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)) }
            }
        }

        /// A `SeededGenerator` state saved as four words (not all zero).
        public func generatorState(_ name: String, path: String = "checkpoint") throws -> [UInt64] {
            let words = try unsignedIntegers(name, path: path)
            guard words.count == 4, words.contains(where: { $0 != 0 }) else {
                throw CheckpointError.wrongTensor(path: path, name: name, reason: "\(words.count) words, expected a generator state of 4")
            }
            return words
        }
    }

    /// Largest header accepted (the reference implementation's limit).
    public static let maximumHeaderBytes = 100_000_000

    public static func encode(_ file: File) throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        let names = file.tensors.keys.sorted()
        for name in names {
            let entry = file.tensors[name]!
            precondition(entry.bytes.count == entry.shape.reduce(1, *) * entry.dtype.size, "\(name): \(entry.bytes.count) bytes for shape \(entry.shape)")
            header[name] = ["dtype": entry.dtype.rawValue, "shape": entry.shape, "data_offsets": [offset, offset + entry.bytes.count]]
            offset += entry.bytes.count
        }
        if !file.metadata.isEmpty { header["__metadata__"] = file.metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (json.count + 8) % 8 != 0 { json.append(0x20) }
        var out = withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init)
        out.reserveCapacity(8 + json.count + offset)
        out += json
        for name in names { out += file.tensors[name]!.bytes }
        return out
    }

    /// Parses and validates a whole file; every problem is a `CheckpointError` naming `path`.
    public static func decode(_ bytes: [UInt8], path: String) throws -> File {
        func bad(_ reason: String) -> CheckpointError { .corrupt(path: path, reason: reason) }
        guard bytes.count >= 8 else { throw bad("\(bytes.count) bytes: shorter than the 8-byte header length") }
        let declared = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard declared <= UInt64(min(maximumHeaderBytes, bytes.count - 8)) else {
            throw bad("header length \(declared) exceeds the file (\(bytes.count) bytes) or the \(maximumHeaderBytes)-byte limit")
        }
        let headerEnd = 8 + Int(declared)
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])), let header = object as? [String: Any] else {
            throw bad("the header is not a JSON object")
        }
        let dataBytes = bytes.count - headerEnd
        var file = File()
        var ranges: [(Int, Int, String)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let metadata = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
                for (key, item) in metadata {
                    guard let text = item as? String else { throw bad("__metadata__.\(key) is not a string") }
                    file.metadata[key] = text
                }
                continue
            }
            guard let fields = value as? [String: Any], let typeName = fields["dtype"] as? String,
                  let shapeValues = fields["shape"] as? [Any], let offsetValues = fields["data_offsets"] as? [Any] else {
                throw bad("\(name): expected dtype, shape and data_offsets")
            }
            guard let dtype = DType(rawValue: typeName) else { throw bad("\(name): unsupported dtype \(typeName)") }
            let shape = try shapeValues.map { v -> Int in
                guard let n = (v as? NSNumber)?.int64Value, n >= 0, n <= Int64(Int32.max), (v as? NSNumber)?.doubleValue == Double(n) else {
                    throw bad("\(name): bad dimension \(v)")
                }
                return Int(n)
            }
            let offsets = try offsetValues.map { v -> Int in
                guard let n = (v as? NSNumber)?.int64Value, n >= 0, n <= Int64(dataBytes), (v as? NSNumber)?.doubleValue == Double(n) else {
                    throw bad("\(name): data offset \(v) outside the \(dataBytes) data bytes")
                }
                return Int(n)
            }
            guard offsets.count == 2, offsets[0] <= offsets[1] else { throw bad("\(name): data_offsets must be [begin, end]") }
            var elements = 1
            for d in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, product <= dataBytes else { throw bad("\(name): shape \(shape) is larger than the file") }
                elements = product
            }
            guard elements * dtype.size == offsets[1] - offsets[0] else {
                throw bad("\(name): shape \(shape) of \(typeName) needs \(elements * dtype.size) bytes, data_offsets span \(offsets[1] - offsets[0])")
            }
            ranges.append((offsets[0], offsets[1], name))
            file.tensors[name] = Entry(dtype: dtype, shape: shape, bytes: Array(bytes[(headerEnd + offsets[0])..<(headerEnd + offsets[1])]))
        }
        // The tensors must tile the data section exactly: no gaps, no overlaps, nothing after.
        var position = 0
        for (begin, end, name) in ranges.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) {
            guard begin == position else { throw bad("\(name): data starts at \(begin), expected \(position) (gap or overlap)") }
            position = end
        }
        guard position == dataBytes else { throw bad("\(dataBytes - position) bytes after the last tensor") }
        return file
    }

    public static func read(_ path: String) throws -> File {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileManager.default.fileExists(atPath: path) ? CheckpointError.unreadable(path: path) : CheckpointError.missing(path: path)
        }
        return try decode([UInt8](data), path: path)
    }

    /// Writes atomically (see `AtomicFile`).
    public static func write(_ file: File, to path: String) throws {
        try AtomicFile.write(encode(file), to: path)
    }
}

/// Why a checkpoint or weights file could not be used. Every case names the file.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case missing(path: String)
    case unreadable(path: String)
    case corrupt(path: String, reason: String)
    case missingTensor(path: String, name: String)
    case wrongTensor(path: String, name: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missing(path): "\(path): file not found"
        case let .unreadable(path): "\(path): cannot be read"
        case let .corrupt(path, reason): "\(path): not a valid safetensors file: \(reason)"
        case let .missingTensor(path, name): "\(path): no tensor '\(name)'"
        case let .wrongTensor(path, name, reason): "\(path): tensor '\(name)' has \(reason)"
        case let .writeFailed(path, reason): "\(path): cannot write (\(reason))"
        }
    }
}
