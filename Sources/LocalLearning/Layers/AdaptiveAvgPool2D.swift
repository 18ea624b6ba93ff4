/// Adaptive average pooling to a fixed output size (PyTorch semantics): output cell i along an axis of
/// input length n averages input [⌊i·n/out⌋, ⌈(i+1)·n/out⌉). Windows overlap when out does not divide n,
/// and an output larger than the input repeats (upsamples) input cells.
public final class AdaptiveAvgPool2D: WindowAveragingLayer {
    public let outputHeight, outputWidth: Int
    var cachedInputShape: [Int] = []

    public init(outputHeight: Int, outputWidth: Int) {
        precondition(outputHeight > 0 && outputWidth > 0, "AdaptiveAvgPool2D needs a positive output size")
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
    }

    public convenience init(_ size: Int) { self.init(outputHeight: size, outputWidth: size) }

    public var summary: String { "AdaptiveAvgPool2D(\(outputHeight)×\(outputWidth))" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3, inputShape[1] > 0, inputShape[2] > 0 else {
            throw ModelError.shapeMismatch(layer: summary, expected: "[C, H, W]", got: inputShape)
        }
        return [inputShape[0], outputHeight, outputWidth]
    }

    /// The input range [start, end) feeding output cell `i` of `outputs` along an axis of length `n`.
    static func window(_ i: Int, outputs: Int, inputs n: Int) -> (Int, Int) {
        ((i * n) / outputs, ((i + 1) * n + outputs - 1) / outputs)
    }

    func windows(height: Int, width: Int) -> WindowAverage {
        let rows = (0..<outputHeight).map { Self.window($0, outputs: outputHeight, inputs: height) }
        let cols = (0..<outputWidth).map { Self.window($0, outputs: outputWidth, inputs: width) }
        let divisors = rows.flatMap { r in cols.map { c in Float((r.1 - r.0) * (c.1 - c.0)) } }
        return WindowAverage(rows: rows, columns: cols, divisors: divisors, inputHeight: height, inputWidth: width)
    }
}
