/// Cuts an image [C, H, W] into non-overlapping P×P patches: tokens [T, C·P·P], T = (H/P)·(W/P),
/// tokens in row-major order of the patch grid, each token's features ordered (c, row, column) —
/// the layout of a convolution weight [D, C, P, P], so Patchify then Linear(C·P·P → D) is the
/// stride-P convolution of the ViT patch embedding. A pure permutation: backward is its inverse.
public final class Patchify: Layer {
    public let patch: Int
    private var inputShape: [Int] = []

    public init(patch: Int) {
        precondition(patch > 0, "a patch must be at least one pixel")
        self.patch = patch
    }

    public var summary: String { "Patchify(\(patch)×\(patch))" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 3, inputShape[1] % patch == 0, inputShape[2] % patch == 0, inputShape[1] > 0, inputShape[2] > 0 else {
            throw ModelError.shapeMismatch(layer: summary, expected: "an image [C, H, W] with H and W multiples of \(patch)", got: inputShape)
        }
        return [(inputShape[1] / patch) * (inputShape[2] / patch), inputShape[0] * patch * patch]
    }

    /// Copies between image and token layouts; `toTokens` chooses the direction.
    private func permute(_ source: Tensor, imageShape: [Int], toTokens: Bool) -> Tensor {
        let (n, c, h, w) = (imageShape[0], imageShape[1], imageShape[2], imageShape[3])
        let p = patch, (gh, gw) = (h / p, w / p), features = c * p * p
        let outputShape = toTokens ? [n, gh * gw, features] : imageShape
        return Tensor(uninitializedShape: outputShape) { out in
            source.withUnsafeBufferPointer { src in
                Parallel.forRanges(n * gh, costPerItem: gw * features) { range in
                    for item in range {
                        let (sample, gi) = (item / gh, item % gh)
                        for gj in 0..<gw {
                            let token = (sample * gh * gw + gi * gw + gj) * features
                            for ch in 0..<c {
                                for r in 0..<p {
                                    let pixel = ((sample * c + ch) * h + gi * p + r) * w + gj * p
                                    let feature = token + (ch * p + r) * p
                                    if toTokens {
                                        (out.baseAddress! + feature).update(from: src.baseAddress! + pixel, count: p)
                                    } else {
                                        (out.baseAddress! + pixel).update(from: src.baseAddress! + feature, count: p)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        precondition(input.rank == 4, "\(summary) got input \(input.shape)")
        if mode.keepsForBackward { inputShape = input.shape }
        return permute(input, imageShape: input.shape, toTokens: true)
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        guard propagate else { return nil }
        precondition(!inputShape.isEmpty, "\(summary): backward without a training forward")
        return permute(outputGradient, imageShape: inputShape, toTokens: false)
    }
}
