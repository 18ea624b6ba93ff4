/// Average pooling over k×k windows (PyTorch semantics: floor mode, zero padding counted in the
/// divisor, `count_include_pad=True`).
public final class AvgPool2D: WindowAveragingLayer {
    public let kernelSize, stride, padding: Int
    var cachedInputShape: [Int] = []

    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        precondition(kernelSize > 0 && (stride ?? kernelSize) > 0 && padding >= 0 && 2 * padding <= kernelSize,
                     "AvgPool2D needs kernel > 0, stride > 0, 0 ≤ padding ≤ kernel/2")
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    public var summary: String { "AvgPool2D(\(kernelSize)×\(kernelSize), stride \(stride))" }

    private func outputSize(_ n: Int) -> Int { (n + 2 * padding - kernelSize) / stride + 1 }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3, inputShape[1] + 2 * padding >= kernelSize, inputShape[2] + 2 * padding >= kernelSize else {
            throw ModelError.shapeMismatch(layer: summary, expected: "[C, H ≥ \(kernelSize), W ≥ \(kernelSize)]", got: inputShape)
        }
        return [inputShape[0], outputSize(inputShape[1]), outputSize(inputShape[2])]
    }

    func windows(height: Int, width: Int) -> WindowAverage {
        // Padded window [start, min(start + k, n + p)) sets the divisor; the clipped range is summed.
        func axis(_ n: Int) -> (ranges: [(Int, Int)], sizes: [Int]) {
            let windows = (0..<outputSize(n)).map { i -> (Int, Int, Int) in
                let start = i * stride - padding
                let end = min(start + kernelSize, n + padding)
                return (max(start, 0), min(end, n), end - start)
            }
            return (windows.map { ($0.0, $0.1) }, windows.map { $0.2 })
        }
        let (rows, rowSizes) = axis(height), (cols, colSizes) = axis(width)
        let divisors = rowSizes.flatMap { r in colSizes.map { Float(r * $0) } }
        return WindowAverage(rows: rows, columns: cols, divisors: divisors, inputHeight: height, inputWidth: width)
    }
}
