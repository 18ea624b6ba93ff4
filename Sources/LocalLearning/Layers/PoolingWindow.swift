/// Kernel, stride and padding of a square pooling window over [C, H, W] inputs, with PyTorch's
/// floor-mode output size ⌊(n + 2p − k)/s⌋ + 1.
public struct PoolingWindow: Sendable, Equatable {
    public let kernelSize, stride, padding: Int

    public init(kernelSize: Int, stride: Int?, padding: Int) {
        precondition(kernelSize > 0 && (stride ?? kernelSize) > 0 && padding >= 0 && 2 * padding <= kernelSize,
                     "a pooling window needs kernel > 0, stride > 0, 0 ≤ padding ≤ kernel/2")
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    public var description: String { "\(kernelSize)×\(kernelSize), stride \(stride)" }

    public func outputSize(_ n: Int) -> Int { (n + 2 * padding - kernelSize) / stride + 1 }

    func outputShape(for inputShape: [Int], layer: String) throws -> [Int] {
        guard inputShape.count == 3, inputShape[1] + 2 * padding >= kernelSize, inputShape[2] + 2 * padding >= kernelSize else {
            throw ModelError.shapeMismatch(layer: layer, expected: "[C, H ≥ \(kernelSize), W ≥ \(kernelSize)]", got: inputShape)
        }
        return [inputShape[0], outputSize(inputShape[1]), outputSize(inputShape[2])]
    }
}
