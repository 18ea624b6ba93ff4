/// Max pooling over k×k windows of an [N, C, H, W] input (PyTorch semantics, floor mode,
/// implicit −∞ padding). Backward routes each output gradient to the position of its maximum.
public final class MaxPool2D: Layer {
    public let kernelSize, stride, padding: Int
    private var argmax: [Int32] = []          // index within the input plane, per output element
    private var inputShape: [Int] = []

    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        precondition(kernelSize > 0 && (stride ?? kernelSize) > 0 && padding >= 0 && 2 * padding <= kernelSize,
                     "MaxPool2D needs kernel > 0, stride > 0, 0 ≤ padding ≤ kernel/2")
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    public var summary: String { "MaxPool2D(\(kernelSize)×\(kernelSize), stride \(stride))" }

    private func outputSize(_ n: Int) -> Int { (n + 2 * padding - kernelSize) / stride + 1 }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3, inputShape[1] + 2 * padding >= kernelSize, inputShape[2] + 2 * padding >= kernelSize else {
            throw ModelError.shapeMismatch(layer: summary, expected: "[C, H ≥ \(kernelSize), W ≥ \(kernelSize)]", got: inputShape)
        }
        return [inputShape[0], outputSize(inputShape[1]), outputSize(inputShape[2])]
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition(input.rank == 4, "\(summary) got input \(input.shape)")
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = (outputSize(h), outputSize(w))
        let planes = n * c
        let training = mode == .training
        if training {
            inputShape = input.shape
            if argmax.count != planes * oh * ow { argmax = [Int32](repeating: 0, count: planes * oh * ow) }
        }
        let (k, s, p) = (kernelSize, stride, padding)
        return argmax.withUnsafeMutableBufferPointer { indices in
            Tensor(uninitializedShape: [n, c, oh, ow]) { y in
                input.withUnsafeBufferPointer { x in
                    Parallel.forRanges(planes, costPerItem: h * w) { range in
                        for plane in range {
                            let xp = x.baseAddress! + plane * h * w
                            let yp = y.baseAddress! + plane * oh * ow
                            let ip = training ? indices.baseAddress! + plane * oh * ow : nil
                            if k == 2 && s == 2 && p == 0 {
                                Self.pool2x2(xp, yp, ip, width: w, outputHeight: oh, outputWidth: ow)
                            } else {
                                Self.pool(xp, yp, ip, height: h, width: w, outputHeight: oh, outputWidth: ow,
                                          kernel: k, stride: s, padding: p)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The common 2×2, stride-2, unpadded case, without per-window bounds.
    @inline(__always)
    static func pool2x2(_ xp: UnsafePointer<Float>, _ yp: UnsafeMutablePointer<Float>, _ indices: UnsafeMutablePointer<Int32>?,
                        width w: Int, outputHeight oh: Int, outputWidth ow: Int) {
        for i in 0..<oh {
            let top = xp + 2 * i * w, bottom = top + w
            for j in 0..<ow {
                let a = top[2 * j], b = top[2 * j + 1], c = bottom[2 * j], d = bottom[2 * j + 1]
                // Same tie rule as the general path: the first maximum in row-major order wins.
                // Branch-free selects: data-dependent branches mispredict about half the time here.
                let top = b > a, upper = top ? b : a, upperAt = top ? 1 : 0
                let low = d > c, lower = low ? d : c, lowerAt = low ? w + 1 : w
                let down = lower > upper
                yp[i * ow + j] = down ? lower : upper
                indices?[i * ow + j] = Int32(2 * i * w + 2 * j + (down ? lowerAt : upperAt))
            }
        }
    }

    /// Max over each window of one plane; records the arg-max position when `indices` is given.
    @inline(__always)
    static func pool(_ xp: UnsafePointer<Float>, _ yp: UnsafeMutablePointer<Float>, _ indices: UnsafeMutablePointer<Int32>?,
                     height h: Int, width w: Int, outputHeight oh: Int, outputWidth ow: Int,
                     kernel k: Int, stride s: Int, padding p: Int) {
        for i in 0..<oh {
            let y0 = max(i * s - p, 0), y1 = min(i * s - p + k, h)
            for j in 0..<ow {
                let x0 = max(j * s - p, 0), x1 = min(j * s - p + k, w)
                var best = xp[y0 * w + x0]
                var position = y0 * w + x0
                for yy in y0..<y1 {
                    for xx in x0..<x1 {
                        let v = xp[yy * w + xx]
                        if v > best {
                            best = v
                            position = yy * w + xx
                        }
                    }
                }
                yp[i * ow + j] = best
                indices?[i * ow + j] = Int32(position)
            }
        }
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        guard propagate else { return nil }
        precondition(!inputShape.isEmpty, "\(summary): backward without a training forward")
        let plane = inputShape[2] * inputShape[3]
        let outPlane = outputGradient.count / (inputShape[0] * inputShape[1])
        precondition(outPlane * inputShape[0] * inputShape[1] == argmax.count, "\(summary) got gradient \(outputGradient.shape)")
        var dx = Tensor(shape: inputShape)
        let planes = inputShape[0] * inputShape[1]
        dx.withUnsafeMutableBufferPointer { dx in
            outputGradient.withUnsafeBufferPointer { dy in
                argmax.withUnsafeBufferPointer { idx in
                    Parallel.forRanges(planes, costPerItem: outPlane) { range in
                        for q in range.lowerBound * outPlane..<range.upperBound * outPlane {
                            dx[(q / outPlane) * plane + Int(idx[q])] += dy[q]
                        }
                    }
                }
            }
        }
        return dx
    }
}
