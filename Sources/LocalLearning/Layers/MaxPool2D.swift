/// Max pooling over k×k windows of an [N, C, H, W] input (PyTorch semantics, floor mode,
/// implicit −∞ padding). Backward routes each output gradient to the position of its maximum.
public final class MaxPool2D: Layer {
    public let window: PoolingWindow
    private var argmax: [Int32] = []          // index within the input plane, per output element
    private var inputShape: [Int] = []

    public var heldBuffers: [HeldBuffer] { argmax.heldBuffer.map { [$0] } ?? [] }
    public func releaseHeld() {
        argmax = []
        inputShape = []
    }

    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        window = PoolingWindow(kernelSize: kernelSize, stride: stride, padding: padding)
    }

    public var summary: String { "MaxPool2D(\(window.description))" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try window.outputShape(for: inputShape, layer: summary)
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition(input.rank == 4, "\(summary) got input \(input.shape)")
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = (window.outputSize(h), window.outputSize(w))
        let planes = n * c
        let training = mode.keepsForBackward
        if training {
            inputShape = input.shape
            if argmax.count != planes * oh * ow { argmax = [Int32](repeating: 0, count: planes * oh * ow) }
        }
        let (k, s, p) = (window.kernelSize, window.stride, window.padding)
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
        let planes = inputShape[0] * inputShape[1]
        if window.kernelSize == 2 && window.stride == 2 && window.padding == 0 && inputShape[2] % 2 == 0 && inputShape[3] % 2 == 0 {
            // Windows tile the plane: every input position gets exactly one write, so no zero fill first.
            let w = inputShape[3], ow = w / 2
            return Tensor(uninitializedShape: inputShape) { dx in
                outputGradient.withUnsafeBufferPointer { dy in
                    argmax.withUnsafeBufferPointer { idx in
                        Parallel.forRanges(planes, costPerItem: 4 * outPlane) { range in
                            for p in range {
                                let target = dx.baseAddress! + p * plane
                                for i in 0..<(outPlane / ow) {
                                    for j in 0..<ow {
                                        let q = p * outPlane + i * ow + j
                                        let corner = 2 * i * w + 2 * j, winner = Int(idx[q]), g = dy[q]
                                        target[corner] = corner == winner ? g : 0
                                        target[corner + 1] = corner + 1 == winner ? g : 0
                                        target[corner + w] = corner + w == winner ? g : 0
                                        target[corner + w + 1] = corner + w + 1 == winner ? g : 0
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var dx = Tensor(shape: inputShape)
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
