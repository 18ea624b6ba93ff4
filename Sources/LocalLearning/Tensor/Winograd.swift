/// 3×3, stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, CVPR 2016):
/// every 2×2 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for the 4×4 input tile d around it, so the
/// channel sums become 16 matrix products [K × C]·[C × tiles] — 4 multiplies per output instead of 9.
///
///     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]   Aᵀ = [1 1 1 0; 0 1 −1 −1]
///
/// The products go through BLAS; the transforms (`WinogradTransforms.swift`) are runs over contiguous arrays. Backward to the
/// input is the same convolution of the output gradient with the kernel flipped and its in/out
/// channels swapped, padded by 2 − p.
enum Winograd {
    /// U = G g Gᵀ for every (out, in) filter of `weight` [K, C, 3, 3], laid out [16][K][C].
    static func transformFilters(_ weight: UnsafePointer<Float>, outChannels k: Int, inChannels c: Int,
                                 into u: UnsafeMutablePointer<Float>) {
        let t = UnsafeMutablePointer<Float>.allocate(capacity: 12)
        defer { t.deallocate() }
        for o in 0..<k {
            for i in 0..<c {
                let g = weight + (o * c + i) * 9
                // t = G g (4×3), then U = t Gᵀ (4×4).
                for col in 0..<3 {
                    let (g0, g1, g2) = (g[col], g[3 + col], g[6 + col])
                    t[col] = g0
                    t[3 + col] = 0.5 * (g0 + g1 + g2)
                    t[6 + col] = 0.5 * (g0 - g1 + g2)
                    t[9 + col] = g2
                }
                for row in 0..<4 {
                    let (a, b, d) = (t[row * 3], t[row * 3 + 1], t[row * 3 + 2])
                    let at = u + (row * 4) * k * c + o * c + i
                    at[0] = a
                    at[k * c] = 0.5 * (a + b + d)
                    at[2 * k * c] = 0.5 * (a - b + d)
                    at[3 * k * c] = d
                }
            }
        }
    }

    /// The kernel for the input gradient: W′[c, k, a, b] = W[k, c, 2 − a, 2 − b].
    static func flippedTransposed(_ weight: UnsafePointer<Float>, outChannels k: Int, inChannels c: Int,
                                  into flipped: UnsafeMutablePointer<Float>) {
        for o in 0..<k {
            for i in 0..<c {
                for a in 0..<3 { for b in 0..<3 { flipped[(i * k + o) * 9 + a * 3 + b] = weight[(o * c + i) * 9 + (2 - a) * 3 + (2 - b)] } }
            }
        }
    }

    /// Buffers one call needs, in floats, for `samples` images whose output is `height`×`width`.
    static func scratchFloats(samples: Int, inChannels c: Int, outChannels k: Int, outputHeight: Int, outputWidth: Int) -> Int {
        16 * max(c, k) * samples * ((outputHeight + 1) / 2) * ((outputWidth + 1) / 2)
    }

    /// y [n, K, Ho, Wo] = x [n, C, H, W] ⋆ the filters whose transform is `u`, with `padding`, plus `bias`.
    /// `v` and `m` are scratch of `scratchFloats` each.
    static func convolve(_ x: UnsafePointer<Float>, samples n: Int, inChannels c: Int, height h: Int, width w: Int,
                         transformedFilters u: UnsafePointer<Float>, outChannels k: Int, padding p: Int, bias: UnsafePointer<Float>?,
                         into y: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>) {
        let (ho, wo) = (h + 2 * p - 2, w + 2 * p - 2)
        let (th, tw) = ((ho + 1) / 2, (wo + 1) / 2)
        let tiles = n * th * tw
        transformInput(x, samples: n, channels: c, height: h, width: w, padding: p, tileRows: th, tileColumns: tw, into: v)
        // M[ξ] = U[ξ] · V[ξ]: [K × C]·[C × tiles] for each of the 16 tile positions.
        for xi in 0..<16 {
            BLAS.gemm(m: k, n: tiles, k: c, a: u + xi * k * c, b: v + xi * c * tiles, c: m + xi * k * tiles)
        }
        transformOutput(m, samples: n, channels: k, outputHeight: ho, outputWidth: wo, tileRows: th, tileColumns: tw,
                        bias: bias, into: y)
    }
}
