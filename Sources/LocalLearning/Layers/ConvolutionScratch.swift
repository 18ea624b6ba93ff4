import Foundation

/// Scratch memory of the convolutions that run on one thread: the patch columns of one chunk of
/// samples, its [out, n·P] products and its column gradients. Every `Conv2D` on the thread shares
/// them (they hold nothing from one call to the next), so their size is one chunk's, not one per
/// layer per batch. Each pipeline stage's thread has its own.
final class ConvolutionScratch {
    let columns = Workspace()
    let product = Workspace()
    let gradientColumns = Workspace()
    /// Winograd's transformed filters.
    let filters = Workspace()

    /// About this many floats of patch columns per chunk (4 MiB: large GEMMs that stay in cache).
    static let chunkFloats = 1 << 20

    private static let key = "LocalLearning.ConvolutionScratch"

    /// This thread's scratch.
    static var current: ConvolutionScratch {
        let dictionary = Thread.current.threadDictionary
        if let scratch = dictionary[key] as? ConvolutionScratch { return scratch }
        let scratch = ConvolutionScratch()
        dictionary[key] = scratch
        return scratch
    }

    var heldBuffers: [HeldBuffer] { [columns, product, gradientColumns, filters].compactMap(\.heldBuffer) }

    /// The batch split into consecutive chunks whose patch columns hold about `floats` floats.
    static func chunks(batch: Int, geometry g: ConvolutionGeometry, floats: Int = chunkFloats) -> [Range<Int>] {
        let perSample = max(g.patchSize * g.outputPlane, 1)
        let size = max(1, min(batch, floats / perSample))
        return stride(from: 0, to: batch, by: size).map { $0..<min($0 + size, batch) }
    }

    /// [out, n·P] products → [n, out, P] output slices, adding the bias (in place when n = 1).
    static func scatter(_ product: UnsafeMutablePointer<Float>, into target: UnsafeMutablePointer<Float>,
                        channels: Int, samples: Int, plane: Int, bias: Tensor?) {
        // One sample without a bias: the product already is the output.
        guard bias != nil || samples > 1 else { return }
        let shifts = bias?.scalars
        Parallel.forRanges(channels, costPerItem: samples * plane) { range in
            for o in range {
                let shift = shifts?[o] ?? 0
                for n in 0..<samples {
                    let source = product + o * samples * plane + n * plane, out = target + (n * channels + o) * plane
                    for p in 0..<plane { out[p] = source[p] + shift }
                }
            }
        }
    }

    /// [n, out, P] gradient slices → [out, n·P].
    static func gather(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, channels: Int, samples: Int, plane: Int) {
        Parallel.forRanges(channels, costPerItem: samples * plane) { range in
            for o in range {
                for n in 0..<samples {
                    (target + o * samples * plane + n * plane).update(from: source + (n * channels + o) * plane, count: plane)
                }
            }
        }
    }
}
