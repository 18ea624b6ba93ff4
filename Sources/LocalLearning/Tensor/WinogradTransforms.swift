/// The tile transforms of Winograd's F(2×2, 3×3) (the products between them are BLAS's): memory-bound
/// passes, written as runs over contiguous arrays so that they vectorise.
extension Winograd {
    /// V = Bᵀ d B for every (channel, 4×4 input tile), laid out [16][C][tiles] with tile (s·th + ty)·tw + tx.
    ///
    /// Each tile row's four zero-padded input rows are split into their even and odd columns; then the row
    /// combinations Bᵀ d and the column ones (· B) are element-wise runs: with E, O a combination's even and
    /// odd columns, the tile at tx gets E[tx] − E[tx+1], O[tx] + E[tx+1], E[tx+1] − O[tx], O[tx] − O[tx+1].
    static func transformInput(_ x: UnsafePointer<Float>, samples n: Int, channels c: Int, height h: Int, width w: Int,
                               padding p: Int, tileRows th: Int, tileColumns tw: Int, into v: UnsafeMutablePointer<Float>) {
        let tiles = n * th * tw, half = tw + 1, span = 2 * half
        Parallel.forRanges(c, costPerItem: tiles * 32) { channels in
            // Rows r = 0…3 at r·span (even half, then odd half), their combinations q = 0…3 at (4 + q)·span.
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 8 * span)
            defer { buffer.deallocate() }
            let (r0, r1, r2, r3) = (buffer, buffer + span, buffer + 2 * span, buffer + 3 * span)
            let (t0, t1, t2, t3) = (buffer + 4 * span, buffer + 5 * span, buffer + 6 * span, buffer + 7 * span)
            let count = min(w, span - p), evenStart = p & 1
            for ci in channels {
                for s in 0..<n {
                    let plane = x + (s * c + ci) * h * w
                    for ty in 0..<th {
                        r0.update(repeating: 0, count: 4 * span)
                        for r in 0..<4 {
                            let yy = 2 * ty - p + r
                            guard yy >= 0 && yy < h && count > 0 else { continue }
                            let source = plane + yy * w, even = buffer + r * span, odd = even + half
                            // Input column i sits at padded column i + p.
                            for i in Swift.stride(from: evenStart, to: count, by: 2) { even[(i + p) >> 1] = source[i] }
                            for i in Swift.stride(from: 1 - evenStart, to: count, by: 2) { odd[(i + p) >> 1] = source[i] }
                        }
                        for j in 0..<span {
                            t0[j] = r0[j] - r2[j]
                            t1[j] = r1[j] + r2[j]
                            t2[j] = r2[j] - r1[j]
                            t3[j] = r1[j] - r3[j]
                        }
                        let tile0 = (s * th + ty) * tw
                        for q in 0..<4 {
                            let even = buffer + (4 + q) * span, odd = even + half
                            let out0 = v + ((4 * q) * c + ci) * tiles + tile0, out1 = out0 + c * tiles
                            let out2 = out1 + c * tiles, out3 = out2 + c * tiles
                            for tx in 0..<tw {
                                out0[tx] = even[tx] - even[tx + 1]
                                out1[tx] = odd[tx] + even[tx + 1]
                                out2[tx] = even[tx + 1] - odd[tx]
                                out3[tx] = odd[tx] - odd[tx + 1]
                            }
                        }
                    }
                }
            }
        }
    }

    /// Y = Aᵀ M A per (out channel, tile), cropped to the output and shifted by the bias, from M laid out
    /// [16][K][tiles]. Per out channel, the four output runs of every tile (top/bottom × left/right column)
    /// are computed eight tiles at a time from the 16 transformed planes, then interleaved into the rows.
    static func transformOutput(_ m: UnsafePointer<Float>, samples n: Int, channels k: Int, outputHeight ho: Int, outputWidth wo: Int,
                                tileRows th: Int, tileColumns tw: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let tiles = n * th * tw, padded = (tiles + 7) / 8 * 8
        Parallel.forRanges(k, costPerItem: tiles * 24) { outs in
            let runs = UnsafeMutablePointer<Float>.allocate(capacity: 4 * padded + 16 * 8)
            defer { runs.deallocate() }
            let (topLeft, topRight, bottomLeft, bottomRight) = (runs, runs + padded, runs + 2 * padded, runs + 3 * padded)
            let staging = runs + 4 * padded
            for o in outs {
                let shift = SIMD8<Float>(repeating: bias?[o] ?? 0)
                var start = 0
                while start < tiles {
                    // The last, partial vector reads the planes through a zero-padded copy.
                    let lanes = min(8, tiles - start)
                    if lanes < 8 {
                        staging.update(repeating: 0, count: 16 * 8)
                        for xi in 0..<16 { (staging + 8 * xi).update(from: m + (xi * k + o) * tiles + start, count: lanes) }
                    }
                    @inline(__always) func plane(_ xi: Int) -> SIMD8<Float> {
                        let source = lanes == 8 ? m + (xi * k + o) * tiles + start : UnsafePointer(staging + 8 * xi)
                        return UnsafeRawPointer(source).loadUnaligned(as: SIMD8<Float>.self)
                    }
                    // Row p, column q of the 4×4 tile is plane(4p + q); s = Aᵀ M first, then · A.
                    let (m4, m5, m6, m7) = (plane(4), plane(5), plane(6), plane(7))
                    let (m8, m9, m10, m11) = (plane(8), plane(9), plane(10), plane(11))
                    let upper0 = plane(0) + m4 + m8, lower0 = m4 - m8 - plane(12)
                    let upper1 = plane(1) + m5 + m9, lower1 = m5 - m9 - plane(13)
                    let upper2 = plane(2) + m6 + m10, lower2 = m6 - m10 - plane(14)
                    let upper3 = plane(3) + m7 + m11, lower3 = m7 - m11 - plane(15)
                    UnsafeMutableRawPointer(topLeft + start).storeBytes(of: upper0 + upper1 + upper2 + shift, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(topRight + start).storeBytes(of: upper1 - upper2 - upper3 + shift, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(bottomLeft + start).storeBytes(of: lower0 + lower1 + lower2 + shift, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(bottomRight + start).storeBytes(of: lower1 - lower2 - lower3 + shift, as: SIMD8<Float>.self)
                    start += 8
                }
                for s in 0..<n {
                    for ty in 0..<th {
                        let tile0 = (s * th + ty) * tw, top = y + (s * k + o) * ho * wo + 2 * ty * wo
                        interleave(topLeft + tile0, topRight + tile0, count: wo, into: top)
                        if 2 * ty + 1 < ho { interleave(bottomLeft + tile0, bottomRight + tile0, count: wo, into: top + wo) }
                    }
                }
            }
        }
    }

    /// row[2i] = left[i], row[2i + 1] = right[i], for the first `count` entries of the row.
    @inline(__always)
    private static func interleave(_ left: UnsafePointer<Float>, _ right: UnsafePointer<Float>, count: Int,
                                   into row: UnsafeMutablePointer<Float>) {
        for i in 0..<count / 2 {
            row[2 * i] = left[i]
            row[2 * i + 1] = right[i]
        }
        if count & 1 == 1 { row[count - 1] = left[count / 2] }
    }
}
