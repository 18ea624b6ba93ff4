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
        // V = Bᵀ d B for every (channel, tile), laid out [16][C][tiles]: the row combinations Bᵀ d run
        // over whole zero-padded rows (contiguous, vectorised), the column ones pick each tile's four.
        let span = 2 * tw + 2
        Parallel.forRanges(c, costPerItem: tiles * 32) { channels in
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: 8 * span)
            defer { rows.deallocate() }
            let (r0, r1, r2, r3) = (rows, rows + span, rows + 2 * span, rows + 3 * span)
            let t = rows + 4 * span
            for ci in channels {
                for s in 0..<n {
                    let plane = x + (s * c + ci) * h * w
                    for ty in 0..<th {
                        // The tile row's four input rows, zero outside the image.
                        for r in 0..<4 {
                            let row = rows + r * span
                            row.update(repeating: 0, count: span)
                            let yy = 2 * ty - p + r
                            guard yy >= 0 && yy < h else { continue }
                            let count = min(w, span - p)
                            if count > 0 { (row + p).update(from: plane + yy * w, count: count) }
                        }
                        for j in 0..<span {
                            t[j] = r0[j] - r2[j]
                            t[span + j] = r1[j] + r2[j]
                            t[2 * span + j] = r2[j] - r1[j]
                            t[3 * span + j] = r1[j] - r3[j]
                        }
                        let tile0 = (s * th + ty) * tw
                        for row in 0..<4 {
                            let source = t + row * span
                            let out0 = v + ((row * 4 + 0) * c + ci) * tiles + tile0, out1 = v + ((row * 4 + 1) * c + ci) * tiles + tile0
                            let out2 = v + ((row * 4 + 2) * c + ci) * tiles + tile0, out3 = v + ((row * 4 + 3) * c + ci) * tiles + tile0
                            for tx in 0..<tw {
                                let b = source + 2 * tx
                                out0[tx] = b[0] - b[2]
                                out1[tx] = b[1] + b[2]
                                out2[tx] = b[2] - b[1]
                                out3[tx] = b[1] - b[3]
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
        // Y = Aᵀ M A per (out channel, tile), cropped to the output and shifted by the bias; each tile
        // row reads its 16 transformed planes as contiguous runs of tiles.
        Parallel.forRanges(k, costPerItem: tiles * 24) { outs in
            let planes = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: 16)
            defer { planes.deallocate() }
            for o in outs {
                let shift = bias?[o] ?? 0
                for s in 0..<n {
                    let plane = y + (s * k + o) * ho * wo
                    for ty in 0..<th {
                        let tile0 = (s * th + ty) * tw
                        for xi in 0..<16 { planes[xi] = UnsafePointer(m + (xi * k + o) * tiles + tile0) }
                        let top = plane + 2 * ty * wo, hasSecondRow = 2 * ty + 1 < ho
                        let bottom = top + wo
                        for tx in 0..<tw {
                            // s = Aᵀ M: row 0 = M0 + M1 + M2, row 1 = M1 − M2 − M3 (Mp: the p-th row of the 4×4 tile).
                            var upper = (Float(0), Float(0), Float(0), Float(0)), lower = upper
                            for q in 0..<4 {
                                let (m0, m1, m2, m3) = (planes[q][tx], planes[4 + q][tx], planes[8 + q][tx], planes[12 + q][tx])
                                let (u, l) = (m0 + m1 + m2, m1 - m2 - m3)
                                switch q {
                                case 0: (upper.0, lower.0) = (u, l)
                                case 1: (upper.1, lower.1) = (u, l)
                                case 2: (upper.2, lower.2) = (u, l)
                                default: (upper.3, lower.3) = (u, l)
                                }
                            }
                            let left = 2 * tx
                            top[left] = upper.0 + upper.1 + upper.2 + shift
                            if hasSecondRow { bottom[left] = lower.0 + lower.1 + lower.2 + shift }
                            if left + 1 < wo {
                                top[left + 1] = upper.1 - upper.2 - upper.3 + shift
                                if hasSecondRow { bottom[left + 1] = lower.1 - lower.2 - lower.3 + shift }
                            }
                        }
                    }
                }
            }
        }
    }
}
