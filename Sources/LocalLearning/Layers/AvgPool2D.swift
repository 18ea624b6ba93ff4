/// Average pooling over k×k windows (PyTorch semantics: floor mode, zero padding counted in the
/// divisor, `count_include_pad=True`).
public final class AvgPool2D: WindowAveragingLayer {
    public let window: PoolingWindow
    var cachedInputShape: [Int] = []

    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        window = PoolingWindow(kernelSize: kernelSize, stride: stride, padding: padding)
    }

    public var summary: String { "AvgPool2D(\(window.description))" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try window.outputShape(for: inputShape, layer: summary)
    }

    func windows(height: Int, width: Int) -> WindowAverage {
        // Padded window [start, min(start + k, n + p)) sets the divisor; the clipped range is summed.
        func axis(_ n: Int) -> (ranges: [(Int, Int)], sizes: [Int]) {
            let (k, stride, padding) = (window.kernelSize, window.stride, window.padding)
            let windows = (0..<window.outputSize(n)).map { i -> (Int, Int, Int) in
                let start = i * stride - padding
                let end = min(start + k, n + padding)
                return (max(start, 0), min(end, n), end - start)
            }
            return (windows.map { ($0.0, $0.1) }, windows.map { $0.2 })
        }
        let (rows, rowSizes) = axis(height), (cols, colSizes) = axis(width)
        let divisors = rowSizes.flatMap { r in colSizes.map { Float(r * $0) } }
        return WindowAverage(rows: rows, columns: cols, divisors: divisors, inputHeight: height, inputWidth: width)
    }
}
