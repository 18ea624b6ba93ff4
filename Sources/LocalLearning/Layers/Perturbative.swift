/// A perturbative layer ("pseudo-convolution", Juefei-Xu, Boddeti & Savvides, CVPR 2018): each input
/// channel gets `masks` fixed noise maps n ~ N(0, σ²) added, goes through ReLU, and every output
/// channel is a learned linear combination of those maps (a 1×1 convolution):
/// z^c = b^c + Σ_m w^{c,m} · ReLU(x^{m/masks} + n^m). Only W ([out, in·masks]) and b learn.
///
/// The noise maps are drawn from the layer's seed the first time an input size is seen (one map per
/// position, shared across the batch), so a layer is deterministic for a given seed and input size.
public final class Perturbative: WeightedLayer {
    public let inChannels, outChannels, masks: Int
    public let noiseLevel: Float
    public let weight: Parameter
    public let bias: Parameter?
    private let noiseSeed: UInt64
    private var noise = Tensor(shape: [0])           // [in·masks, H, W]
    private var perturbed = Tensor(shape: [0])       // ReLU(x + n) of the last training forward, [N, in·masks, H, W]

    public init(_ inChannels: Int, _ outChannels: Int, masks: Int = 1, noiseLevel: Float = 0.1,
                initializer: Initializer = .pytorchDefault, rng: inout SeededGenerator) {
        precondition(inChannels > 0 && outChannels > 0 && masks > 0 && noiseLevel >= 0, "Perturbative needs positive sizes and σ ≥ 0")
        (self.inChannels, self.outChannels, self.masks, self.noiseLevel) = (inChannels, outChannels, masks, noiseLevel)
        weight = Parameter(name: "weight", value: initializer.make([outChannels, inChannels * masks], using: &rng))
        let bound = 1 / Float(inChannels * masks).squareRoot()
        bias = Parameter(name: "bias", value: .uniform([outChannels], bound: bound, using: &rng))
        noiseSeed = rng.next()
    }

    public var summary: String { "Perturbative(\(inChannels)×\(masks) noise maps → \(outChannels), σ \(noiseLevel))" }

    public var heldBuffers: [HeldBuffer] { [noise.heldBuffer, perturbed.heldBuffer].compactMap { $0 } }
    public func releaseHeld() { perturbed = Tensor(shape: [0]) }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3, inputShape[0] == inChannels else {
            throw ModelError.shapeMismatch(layer: summary, expected: "[\(inChannels), H, W]", got: inputShape)
        }
        return [outChannels, inputShape[1], inputShape[2]]
    }

    /// The fixed noise maps for an H×W input.
    public func noiseMaps(height: Int, width: Int) -> Tensor {
        let shape = [inChannels * masks, height, width]
        if noise.shape != shape {
            var rng = SeededGenerator(seed: noiseSeed)
            let sigma = noiseLevel
            noise = Tensor(uninitializedShape: shape) { p in for i in p.indices { p[i] = sigma * rng.nextNormal() } }
        }
        return noise
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition(input.rank == 4 && input.shape[1] == inChannels, "\(summary) got input \(input.shape)")
        let (batch, h, w) = (input.shape[0], input.shape[2], input.shape[3])
        let plane = h * w, k = inChannels * masks, m = masks
        let n = noiseMaps(height: h, width: w)
        let p = Tensor(uninitializedShape: [batch, k, h, w]) { out in
            input.withUnsafeBufferPointer { x in
                n.withUnsafeBufferPointer { noise in
                    Parallel.forRanges(batch * k, costPerItem: plane) { range in
                        for map in range {
                            let (sample, channel) = map.quotientAndRemainder(dividingBy: k)
                            let source = x.baseAddress! + (sample * inChannels + channel / m) * plane
                            let mask = noise.baseAddress! + channel * plane, target = out.baseAddress! + map * plane
                            for i in 0..<plane { target[i] = max(0, source[i] + mask[i]) }
                        }
                    }
                }
            }
        }
        if mode.keepsForBackward { perturbed = p }
        return Tensor(uninitializedShape: [batch, outChannels, h, w]) { y in
            weight.value.withUnsafeBufferPointer { wp in
                p.withUnsafeBufferPointer { pp in
                    for sample in 0..<batch {
                        BLAS.gemm(m: outChannels, n: plane, k: k, a: wp.baseAddress!, b: pp.baseAddress! + sample * k * plane,
                                  c: y.baseAddress! + sample * outChannels * plane)
                    }
                }
            }
            let b = bias!.value.scalars
            for sample in 0..<batch {
                for c in 0..<outChannels {
                    let row = y.baseAddress! + (sample * outChannels + c) * plane
                    for i in 0..<plane { row[i] += b[c] }
                }
            }
        }
    }

    public func backward(_ outputGradient: Tensor, feedback: Tensor?, propagate: Bool) -> Tensor? {
        let p = perturbed
        precondition(p.rank == 4 && outputGradient.shape == [p.shape[0], outChannels, p.shape[2], p.shape[3]],
                     "\(summary): backward without a matching training forward")
        let (batch, h, w) = (p.shape[0], p.shape[2], p.shape[3])
        let plane = h * w, k = inChannels * masks
        var dw = Tensor(shape: weight.value.shape)
        outputGradient.withUnsafeBufferPointer { dy in
            p.withUnsafeBufferPointer { pp in
                dw.withUnsafeMutableBufferPointer { g in
                    for sample in 0..<batch {
                        BLAS.gemm(transposeB: true, m: outChannels, n: k, k: plane, a: dy.baseAddress! + sample * outChannels * plane,
                                  b: pp.baseAddress! + sample * k * plane, beta: 1, c: g.baseAddress!)
                    }
                }
            }
        }
        weight.gradient = dw
        bias!.gradient = Tensor(uninitializedShape: [outChannels]) { db in
            outputGradient.withUnsafeBufferPointer { dy in
                for c in 0..<outChannels {
                    var s: Float = 0
                    for sample in 0..<batch { s += VectorMath.sum(dy.baseAddress! + (sample * outChannels + c) * plane, count: plane) }
                    db[c] = s
                }
            }
        }
        guard propagate else { return nil }
        let matrix = feedback ?? weight.value
        precondition(matrix.shape == weight.value.shape, "\(summary): feedback \(matrix.shape) must match weight \(weight.value.shape)")
        // dP = Bᵀ·dY per sample, then through ReLU (P > 0) and summed over each channel's masks.
        let dp = Tensor(uninitializedShape: [batch, k, h, w]) { out in
            outputGradient.withUnsafeBufferPointer { dy in
                matrix.withUnsafeBufferPointer { b in
                    for sample in 0..<batch {
                        BLAS.gemm(transposeA: true, m: k, n: plane, k: outChannels, a: b.baseAddress!,
                                  b: dy.baseAddress! + sample * outChannels * plane, c: out.baseAddress! + sample * k * plane)
                    }
                }
            }
        }
        return Tensor(uninitializedShape: [batch, inChannels, h, w]) { dx in
            dp.withUnsafeBufferPointer { d in
                p.withUnsafeBufferPointer { pp in
                    for sample in 0..<batch {
                        for c in 0..<inChannels {
                            let target = dx.baseAddress! + (sample * inChannels + c) * plane
                            target.update(repeating: 0, count: plane)
                            for mask in 0..<masks {
                                let offset = (sample * k + c * masks + mask) * plane
                                for i in 0..<plane where pp[offset + i] > 0 { target[i] += d[offset + i] }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Perturbative: CountsMACs {
    /// The 1×1 combination (the noise addition and ReLU count as free).
    public func forwardMACs(inputShape: [Int]) -> Int { outChannels * inChannels * masks * inputShape[1] * inputShape[2] }
}
