/// A dense, contiguous, row-major array of `Float` of any rank, with value semantics.
///
/// Storage is a Swift array, so copies are cheap until one side is mutated (copy-on-write).
/// Hot loops reach the storage through `withUnsafeBufferPointer` / `withUnsafeMutableBufferPointer`.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var scalars: [Float]

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.scalars = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of `shape` holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor whose every element is written by `initializer`; no zero fill happens first.
    /// `initializer` must write all `shape.reduce(1, *)` elements.
    public init(uninitializedShape shape: [Int], _ initializer: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.scalars = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            initializer(buffer)
            initialized = count
        }
    }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    /// The same scalars viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer { try body($0) }
    }

    public subscript(index: Int) -> Float {
        get { scalars[index] }
        set { scalars[index] = newValue }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(preview)\(count > 8 ? ", …" : "")]"
    }
}

extension Tensor {
    /// Sum of squares of all elements, accumulated in Double.
    public var squaredNorm: Double {
        withUnsafeBufferPointer { p in
            var s = 0.0
            for v in p { s += Double(v) * Double(v) }
            return s
        }
    }

    /// True when every element is finite.
    public var isFinite: Bool {
        withUnsafeBufferPointer { p in p.allSatisfy { $0.isFinite } }
    }
}
