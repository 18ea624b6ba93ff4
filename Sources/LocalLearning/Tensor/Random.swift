/// A seeded pseudo-random generator (xoshiro256**), seeded through SplitMix64.
///
/// The same seed gives the same stream on every platform; every random choice in the library
/// (initialisation, data order, dropout, augmentation) draws from one of these.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    /// The four state words, to save and restore a generator exactly (checkpoints).
    public var stateWords: [UInt64] {
        get { [state.0, state.1, state.2, state.3] }
        set {
            precondition(newValue.count == 4 && newValue.contains { $0 != 0 }, "a generator state is four words, not all zero")
            state = (newValue[0], newValue[1], newValue[2], newValue[3])
        }
    }

    /// A derived generator for a sub-task, so that adding draws in one place does not shift another's stream.
    public mutating func fork() -> SeededGenerator {
        SeededGenerator(seed: next())
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [low, high).
    @inline(__always)
    public mutating func nextUniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * nextUniform()
    }

    /// Standard normal by the Box–Muller transform (computed in Double).
    public mutating func nextNormal() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1.0p-53, 0x1.0p-60)
        let u2 = Double(next() >> 11) * 0x1.0p-53
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    /// Uniform integer in 0..<bound.
    public mutating func nextInt(below bound: Int) -> Int {
        Int(next(upperBound: UInt64(bound)))
    }

    /// A uniformly shuffled permutation of 0..<count (Fisher–Yates).
    public mutating func permutation(_ count: Int) -> [Int32] {
        var p = (0..<count).map { Int32($0) }
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                p.swapAt(i, nextInt(below: i + 1))
            }
        }
        return p
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
#endif
