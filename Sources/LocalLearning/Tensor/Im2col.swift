/// Geometry of a 2-d convolution or pooling window over an [N, C, H, W] input.
public struct ConvolutionGeometry: Sendable, Equatable {
    public var channels, height, width: Int
    public var kernelHeight, kernelWidth: Int
    public var stride, padding: Int

    public init(channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Int) {
        (self.channels, self.height, self.width) = (channels, height, width)
        (self.kernelHeight, self.kernelWidth, self.stride, self.padding) = (kernelHeight, kernelWidth, stride, padding)
    }

    public var outputHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    /// Rows of the column matrix: one per (channel, kernel row, kernel column).
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    public var outputPlane: Int { outputHeight * outputWidth }
    public var inputPlane: Int { height * width }
    /// Stride 1 with "same" padding: the output plane has the input's size.
    public var preservesSize: Bool {
        stride == 1 && kernelHeight % 2 == 1 && kernelWidth % 2 == 1
            && 2 * padding == kernelHeight - 1 && kernelHeight == kernelWidth
    }

    /// The output columns [lo, hi) whose input column ow·stride − padding + kj lies inside the image.
    @inline(__always)
    func validOutputColumns(kernelColumn kj: Int) -> (Int, Int) {
        let offset = kj - padding
        // ow·s + offset >= 0  and  ow·s + offset <= width − 1
        let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
        let hiInclusive = (width - 1 - offset) < 0 ? -1 : (width - 1 - offset) / stride
        return (min(lo, outputWidth), max(min(hiInclusive + 1, outputWidth), min(lo, outputWidth)))
    }
}

/// Unfolds image patches into a column matrix and folds it back.
///
/// The column matrix has shape [patchSize, batch·outputPlane]: row (c, ki, kj), column
/// n·outputPlane + oh·outputWidth + ow holds x[n, c, oh·s − p + ki, ow·s − p + kj] (0 outside the image).
/// A convolution is then one GEMM: W[out, patchSize] · columns.
public enum Im2col {
    public static func unfold(_ input: UnsafePointer<Float>, batch: Int, geometry g: ConvolutionGeometry,
                              into columns: UnsafeMutablePointer<Float>) {
        if g.preservesSize {
            unfoldSameSize(input, batch: batch, geometry: g, into: columns)
            return
        }
        let oh = g.outputHeight, ow = g.outputWidth, plane = g.outputPlane
        let rowLength = batch * plane
        Parallel.forRanges(g.channels, costPerItem: g.kernelHeight * g.kernelWidth * rowLength) { channels in
        for c in channels {
            for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth {
                    let row = columns + ((c * g.kernelHeight + ki) * g.kernelWidth + kj) * rowLength
                    let (lo, hi) = g.validOutputColumns(kernelColumn: kj)
                    for n in 0..<batch {
                        let image = input + (n * g.channels + c) * g.inputPlane
                        for y in 0..<oh {
                            let out = row + n * plane + y * ow
                            let iy = y * g.stride - g.padding + ki
                            if iy < 0 || iy >= g.height || lo >= hi {
                                for x in 0..<ow { out[x] = 0 }
                                continue
                            }
                            for x in 0..<lo { out[x] = 0 }
                            for x in hi..<ow { out[x] = 0 }
                            let source = image + iy * g.width - g.padding + kj
                            if g.stride == 1 {
                                for x in lo..<hi { out[x] = source[x] }
                            } else {
                                for x in lo..<hi { out[x] = source[x * g.stride] }
                            }
                        }
                    }
                }
            }
        }
        }
    }

    /// The adjoint of `unfold`: sums every column entry back into the image position it came from.
    /// `output` is overwritten; `columns` is scratch (the same-size path zeroes its out-of-image entries).
    public static func fold(_ columns: UnsafeMutablePointer<Float>, batch: Int, geometry g: ConvolutionGeometry,
                            into output: UnsafeMutablePointer<Float>) {
        if g.preservesSize {
            foldSameSize(columns, batch: batch, geometry: g, into: output)
            return
        }
        let oh = g.outputHeight, ow = g.outputWidth, plane = g.outputPlane
        let rowLength = batch * plane
        Parallel.forRanges(g.channels, costPerItem: g.kernelHeight * g.kernelWidth * rowLength) { channels in
        for c in channels {
            for n in 0..<batch { (output + (n * g.channels + c) * g.inputPlane).update(repeating: 0, count: g.inputPlane) }
            for ki in 0..<g.kernelHeight {
                for kj in 0..<g.kernelWidth {
                    let row = columns + ((c * g.kernelHeight + ki) * g.kernelWidth + kj) * rowLength
                    let (lo, hi) = g.validOutputColumns(kernelColumn: kj)
                    if lo >= hi { continue }
                    for n in 0..<batch {
                        let image = output + (n * g.channels + c) * g.inputPlane
                        for y in 0..<oh {
                            let iy = y * g.stride - g.padding + ki
                            if iy < 0 || iy >= g.height { continue }
                            let source = row + n * plane + y * ow
                            let target = image + iy * g.width - g.padding + kj
                            if g.stride == 1 {
                                for x in lo..<hi { target[x] += source[x] }
                            } else {
                                for x in lo..<hi { target[x * g.stride] += source[x] }
                            }
                        }
                    }
                }
            }
        }
        }
    }

    // MARK: Stride 1, output size = input size (odd kernel, padding (k−1)/2)
    //
    // Then row (c, ki, kj) of sample n is the input plane shifted by δ = (ki−p)·W + (kj−p) in
    // flattened coordinates: one contiguous copy, after which the entries whose source lies outside
    // the image (a few border rows and one border column per kernel column) are set to 0.

    /// The flattened offset δ, and the output range [lo, hi) whose shifted index stays inside the plane.
    @inline(__always)
    static func shift(_ g: ConvolutionGeometry, ki: Int, kj: Int) -> (delta: Int, lo: Int, hi: Int) {
        let delta = (ki - g.padding) * g.width + (kj - g.padding)
        let lo = min(g.inputPlane, max(0, -delta))
        return (delta, lo, max(lo, min(g.inputPlane, g.inputPlane - delta)))   // empty when the shift passes the whole plane
    }

    /// Calls `body(position)` for each output position of the plane whose source row or column is outside the image.
    @inline(__always)
    static func forEachOutside(_ g: ConvolutionGeometry, ki: Int, kj: Int, _ body: (Int) -> Void) {
        let dy = ki - g.padding, dx = kj - g.padding, w = g.width, h = g.height
        for y in 0..<h {
            if y + dy < 0 || y + dy >= h {
                for x in 0..<w { body(y * w + x) }
            } else {
                for x in 0..<min(w, dx < 0 ? -dx : 0) { body(y * w + x) }
                for x in max(0, dx > 0 ? w - dx : w)..<w { body(y * w + x) }
            }
        }
    }

    static func unfoldSameSize(_ input: UnsafePointer<Float>, batch: Int, geometry g: ConvolutionGeometry,
                               into columns: UnsafeMutablePointer<Float>) {
        let plane = g.inputPlane, rowLength = batch * plane
        Parallel.forRanges(g.channels, costPerItem: g.kernelHeight * g.kernelWidth * rowLength) { channels in
            for c in channels {
                for ki in 0..<g.kernelHeight {
                    for kj in 0..<g.kernelWidth {
                        let row = columns + ((c * g.kernelHeight + ki) * g.kernelWidth + kj) * rowLength
                        let (delta, lo, hi) = shift(g, ki: ki, kj: kj)
                        for n in 0..<batch {
                            let out = row + n * plane, source = input + (n * g.channels + c) * plane + delta
                            for i in lo..<hi { out[i] = source[i] }
                            forEachOutside(g, ki: ki, kj: kj) { out[$0] = 0 }
                        }
                    }
                }
            }
        }
    }

    static func foldSameSize(_ columns: UnsafeMutablePointer<Float>, batch: Int, geometry g: ConvolutionGeometry,
                             into output: UnsafeMutablePointer<Float>) {
        let plane = g.inputPlane, rowLength = batch * plane
        Parallel.forRanges(g.channels, costPerItem: g.kernelHeight * g.kernelWidth * rowLength) { channels in
            for c in channels {
                for n in 0..<batch { (output + (n * g.channels + c) * plane).update(repeating: 0, count: plane) }
                for ki in 0..<g.kernelHeight {
                    for kj in 0..<g.kernelWidth {
                        let row = columns + ((c * g.kernelHeight + ki) * g.kernelWidth + kj) * rowLength
                        let (delta, lo, hi) = shift(g, ki: ki, kj: kj)
                        for n in 0..<batch {
                            let source = row + n * plane, target = output + (n * g.channels + c) * plane + delta
                            forEachOutside(g, ki: ki, kj: kj) { source[$0] = 0 }
                            for i in lo..<hi { target[i] += source[i] }
                        }
                    }
                }
            }
        }
    }
}
