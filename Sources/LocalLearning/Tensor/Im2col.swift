/// Geometry of a 2-d convolution or pooling window over an [N, C, H, W] input.
public struct ConvolutionGeometry: Sendable, Equatable {
    public var channels, height, width: Int
    public var kernelHeight, kernelWidth: Int
    public var stride, padding: Int

    public var outputHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    /// Rows of the column matrix: one per (channel, kernel row, kernel column).
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    public var outputPlane: Int { outputHeight * outputWidth }
    public var inputPlane: Int { height * width }

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
    /// `output` is overwritten.
    public static func fold(_ columns: UnsafePointer<Float>, batch: Int, geometry g: ConvolutionGeometry,
                            into output: UnsafeMutablePointer<Float>) {
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
}
