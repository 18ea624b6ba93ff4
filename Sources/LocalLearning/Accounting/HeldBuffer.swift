/// A block of memory a layer or a step holds, identified by its address so that storage shared by
/// several holders (a layer's cached output is the next layer's cached input) is counted once.
public struct HeldBuffer: Hashable, Sendable {
    public let address: UInt
    public let bytes: Int

    public init(address: UInt, bytes: Int) {
        self.address = address
        self.bytes = bytes
    }
}

extension Tensor {
    /// The tensor's storage as a held buffer; nil when empty.
    public var heldBuffer: HeldBuffer? {
        guard count > 0 else { return nil }
        return withUnsafeBufferPointer { HeldBuffer(address: UInt(bitPattern: $0.baseAddress!), bytes: $0.count * MemoryLayout<Float>.stride) }
    }
}

extension Array where Element: BitwiseCopyable {
    var heldBuffer: HeldBuffer? {
        guard !isEmpty else { return nil }
        return withUnsafeBufferPointer { HeldBuffer(address: UInt(bitPattern: $0.baseAddress!), bytes: $0.count * MemoryLayout<Element>.stride) }
    }
}

extension Workspace {
    var heldBuffer: HeldBuffer? {
        capacity > 1 ? HeldBuffer(address: UInt(bitPattern: pointer), bytes: capacity * MemoryLayout<Float>.stride) : nil
    }
}
