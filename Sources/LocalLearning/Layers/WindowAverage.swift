/// Averages over rectangular windows of each [H, W] plane, with windows given per output row and
/// column as half-open input ranges and a divisor per output cell. Shared by AvgPool2D and
/// AdaptiveAvgPool2D; windows may overlap, and backward accumulates where they do.
struct WindowAverage {
    var rows: [(Int, Int)]          // input row range of each output row
    var columns: [(Int, Int)]       // input column range of each output column
    var divisors: [Float]           // per output cell, row-major
    var inputHeight, inputWidth: Int

    var outputHeight: Int { rows.count }
    var outputWidth: Int { columns.count }

    func forward(_ x: UnsafePointer<Float>, planes: Int, into y: UnsafeMutablePointer<Float>) {
        let (h, w, oh, ow) = (inputHeight, inputWidth, outputHeight, outputWidth)
        for plane in 0..<planes {
            let xp = x + plane * h * w, yp = y + plane * oh * ow
            for i in 0..<oh {
                let (r0, r1) = rows[i]
                for j in 0..<ow {
                    let (c0, c1) = columns[j]
                    var s: Float = 0
                    for r in r0..<r1 { for c in c0..<c1 { s += xp[r * w + c] } }
                    yp[i * ow + j] = s / divisors[i * ow + j]
                }
            }
        }
    }

    func backward(_ dy: UnsafePointer<Float>, planes: Int, into dx: UnsafeMutablePointer<Float>) {
        let (h, w, oh, ow) = (inputHeight, inputWidth, outputHeight, outputWidth)
        dx.update(repeating: 0, count: planes * h * w)
        for plane in 0..<planes {
            let dxp = dx + plane * h * w, dyp = dy + plane * oh * ow
            for i in 0..<oh {
                let (r0, r1) = rows[i]
                for j in 0..<ow {
                    let (c0, c1) = columns[j]
                    let g = dyp[i * ow + j] / divisors[i * ow + j]
                    for r in r0..<r1 { for c in c0..<c1 { dxp[r * w + c] += g } }
                }
            }
        }
    }
}

/// Shared forward/backward plumbing for layers that average over windows of [N, C, H, W] inputs.
protocol WindowAveragingLayer: Layer {
    func windows(height: Int, width: Int) -> WindowAverage
    var cachedInputShape: [Int] { get set }
}

extension WindowAveragingLayer {
    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition(input.rank == 4, "\(summary) got input \(input.shape)")
        let win = windows(height: input.shape[2], width: input.shape[3])
        if mode.keepsForBackward { cachedInputShape = input.shape }
        let planes = input.shape[0] * input.shape[1]
        return Tensor(uninitializedShape: [input.shape[0], input.shape[1], win.outputHeight, win.outputWidth]) { y in
            input.withUnsafeBufferPointer { win.forward($0.baseAddress!, planes: planes, into: y.baseAddress!) }
        }
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        guard propagate else { return nil }
        let shape = cachedInputShape
        precondition(!shape.isEmpty, "\(summary): backward without a training forward")
        let win = windows(height: shape[2], width: shape[3])
        precondition(outputGradient.shape == [shape[0], shape[1], win.outputHeight, win.outputWidth],
                     "\(summary) got gradient \(outputGradient.shape)")
        return Tensor(uninitializedShape: shape) { dx in
            outputGradient.withUnsafeBufferPointer {
                win.backward($0.baseAddress!, planes: shape[0] * shape[1], into: dx.baseAddress!)
            }
        }
    }
}
