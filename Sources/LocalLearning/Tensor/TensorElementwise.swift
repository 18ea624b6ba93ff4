extension Tensor {
    /// f applied to every element.
    public func mapped(_ f: (Float) -> Float) -> Tensor {
        Tensor(uninitializedShape: shape) { out in
            withUnsafeBufferPointer { x in for i in out.indices { out[i] = f(x[i]) } }
        }
    }

    /// f applied elementwise to two tensors of one shape.
    public static func zip(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape, "elementwise op on \(a.shape) and \(b.shape)")
        return Tensor(uninitializedShape: a.shape) { out in
            a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in for i in out.indices { out[i] = f(x[i], y[i]) } } }
        }
    }

    /// Elementwise product with a tensor of the same shape.
    public func multiplied(by other: Tensor) -> Tensor {
        Tensor.zip(self, other, *)
    }
}
