import LocalLearning

/// Message tags between stage ranks.
enum StageTag: Int {
    /// A batch's activation, labels and step state, from rank k to rank k+1.
    case data = 1
    /// A finished step's statistics, from the last rank to rank 0.
    case result = 2
    /// Every batch of a stretch is in: finish it, then bring every rank's weights up to date.
    case endOfStretch = 3
    /// Training is over: exit.
    case done = 4
    /// Save your stage's checkpoint (folder and position), from rank k to rank k+1.
    case checkpoint = 5
    /// A rank's answer to `checkpoint`, to rank 0: empty, or why the save failed.
    case saved = 6
}

/// Little-endian packing of the few kinds of values stages exchange.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func int(_ value: Int) { withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 } }
    mutating func float(_ value: Float) { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
    mutating func floats(_ values: [Float]) {
        int(values.count)
        values.withUnsafeBytes { bytes += $0 }
    }
    mutating func tensor(_ t: Tensor) {
        int(t.shape.count)
        t.shape.forEach { int($0) }
        floats(t.scalars)
    }
    mutating func text(_ s: String?) {
        let utf8 = s.map { Array($0.utf8) } ?? []
        int(s == nil ? -1 : utf8.count)
        bytes += utf8
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func int() -> Int {
        let value = bytes[offset..<offset + 8].withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
        offset += 8
        return Int(value)
    }
    mutating func float() -> Float {
        let bits = bytes[offset..<offset + 4].withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        offset += 4
        return Float(bitPattern: bits)
    }
    mutating func floats() -> [Float] {
        let count = int()
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes[offset..<offset + 4 * count].withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
            }
            initialized = count
        }
        offset += 4 * count
        return values
    }
    mutating func tensor() -> Tensor {
        let rank = int()
        let shape = (0..<rank).map { _ in int() }
        return Tensor(shape: shape, scalars: floats())
    }
    mutating func text() -> String? {
        let count = int()
        guard count >= 0 else { return nil }
        defer { offset += count }
        return String(decoding: bytes[offset..<offset + count], as: UTF8.self)
    }
}

/// A batch on its way from stage rank to stage rank.
struct StageMessage {
    var index: Int
    var learningRate: Float
    var labels: [Int32]
    var activation: Tensor
    var state: LocalStepState
    var brokenBlock: String?

    var encoded: [UInt8] {
        var w = ByteWriter()
        w.int(index)
        w.float(learningRate)
        w.int(labels.count)
        labels.forEach { w.int(Int($0)) }
        w.tensor(activation)
        w.int(state.tensors.count)
        for key in state.tensors.keys.sorted() {
            w.int(key)
            w.tensor(state.tensors[key]!)
        }
        w.text(brokenBlock)
        return w.bytes
    }

    init(index: Int, learningRate: Float, labels: [Int32], activation: Tensor, state: LocalStepState, brokenBlock: String?) {
        (self.index, self.learningRate, self.labels, self.activation, self.state, self.brokenBlock) =
            (index, learningRate, labels, activation, state, brokenBlock)
    }

    init(decoding bytes: [UInt8]) {
        var r = ByteReader(bytes)
        index = r.int()
        learningRate = r.float()
        labels = (0..<r.int()).map { _ in Int32(r.int()) }
        activation = r.tensor()
        state = LocalStepState()
        for _ in 0..<r.int() {
            let key = r.int()
            state.tensors[key] = r.tensor()
        }
        brokenBlock = r.text()
    }
}

extension PipelineResult {
    var encoded: [UInt8] {
        var w = ByteWriter()
        w.int(index)
        w.float(statistics.loss)
        w.int(statistics.correct)
        w.int(statistics.count)
        w.text(brokenBlock)
        return w.bytes
    }

    init(decoding bytes: [UInt8]) {
        var r = ByteReader(bytes)
        let index = r.int()
        let statistics = StepStatistics(loss: r.float(), correct: r.int(), count: r.int())
        self.init(index: index, statistics: statistics, brokenBlock: r.text())
    }
}
