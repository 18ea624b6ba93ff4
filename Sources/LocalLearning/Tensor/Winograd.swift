/// 3×3, stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, CVPR 2016):
/// every 2×2 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for the 4×4 input tile d around it, so the
/// channel sums become 16 matrix products [K × C]·[C × tiles] — 4 multiplies per output instead of 9.
///
///     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]   Aᵀ = [1 1 1 0; 0 1 −1 −1]
///
/// The products go through BLAS; the transforms are plain loops over contiguous tiles. Backward to the
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
        // V = Bᵀ d B for every (channel, tile), laid out [16][C][tiles].
        Parallel.forRanges(c, costPerItem: tiles * 32) { channels in
            let d = UnsafeMutablePointer<Float>.allocate(capacity: 32), t = d + 16
            defer { d.deallocate() }
            for ci in channels {
                for s in 0..<n {
                    let plane = x + (s * c + ci) * h * w
                    for ty in 0..<th {
                        for tx in 0..<tw {
                            let (top, left) = (2 * ty - p, 2 * tx - p)
                            for r in 0..<4 {
                                let yy = top + r
                                for q in 0..<4 {
                                    let xx = left + q
                                    d[r * 4 + q] = yy >= 0 && yy < h && xx >= 0 && xx < w ? plane[yy * w + xx] : 0
                                }
                            }
                            // Rows: t = Bᵀ d, then columns: V = t B.
                            for q in 0..<4 {
                                t[q] = d[q] - d[8 + q]
                                t[4 + q] = d[4 + q] + d[8 + q]
                                t[8 + q] = d[8 + q] - d[4 + q]
                                t[12 + q] = d[4 + q] - d[12 + q]
                            }
                            let tile = (s * th + ty) * tw + tx
                            for r in 0..<4 {
                                let row = r * 4
                                v[((row + 0) * c + ci) * tiles + tile] = t[row] - t[row + 2]
                                v[((row + 1) * c + ci) * tiles + tile] = t[row + 1] + t[row + 2]
                                v[((row + 2) * c + ci) * tiles + tile] = t[row + 2] - t[row + 1]
                                v[((row + 3) * c + ci) * tiles + tile] = t[row + 1] - t[row + 3]
                            }
                        }
                    }
                }
            }
        }
        // M[ξ] = U[ξ] · V[ξ]: [K × C]·[C × tiles] for each of the 16 tile positions.
        for xi in 0..<16 {
            BLAS.gemm(m: k, n: tiles, k: c, a: u + xi * k * c, b: v + xi * c * tiles, c: m + xi * k * tiles)
        }
        // Y = Aᵀ M A per (out channel, tile), cropped to the output and shifted by the bias.
        Parallel.forRanges(k, costPerItem: tiles * 24) { outs in
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: 8)
            defer { rows.deallocate() }
            for o in outs {
                let shift = bias?[o] ?? 0
                for s in 0..<n {
                    let plane = y + (s * k + o) * ho * wo
                    for ty in 0..<th {
                        for tx in 0..<tw {
                            let tile = (s * th + ty) * tw + tx
                            let base = m + o * tiles + tile, stride = k * tiles
                            // s = Aᵀ M (2×4), then Y = s A (2×2).
                            for q in 0..<4 {
                                let (m0, m1, m2, m3) = (base[q * stride], base[(4 + q) * stride], base[(8 + q) * stride], base[(12 + q) * stride])
                                rows[q] = m0 + m1 + m2
                                rows[4 + q] = m1 - m2 - m3
                            }
                            for r in 0..<2 {
                                let yy = 2 * ty + r
                                guard yy < ho else { continue }
                                let row = rows + r * 4, left = 2 * tx
                                plane[yy * wo + left] = row[0] + row[1] + row[2] + shift
                                if left + 1 < wo { plane[yy * wo + left + 1] = row[1] - row[2] - row[3] + shift }
                            }
                        }
                    }
                }
            }
        }
    }
}
