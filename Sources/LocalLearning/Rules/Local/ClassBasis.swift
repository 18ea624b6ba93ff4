#if canImport(Glibc)
import Glibc
#endif

/// The fixed class basis B ∈ R^{C×D} that LLS projects a layer's pooled, normalised activity onto
/// (one row per class). Deterministic: the periodic kinds depend only on (C, D).
///
/// - `sine` — B[k, n] = sin(f_k·n), f_k = linspace(50, 512, C)[k], n = 0…D−1, all in Float32, as the
///   LLS reference code has done since its camera-ready version. The frequencies alias far above π,
///   which makes the rows behave like nearly orthogonal pseudo-random periodic codes.
/// - `square` — sign of the sine basis (sign(0) = 0, so feature 0 always has weight 0).
/// - `cosine` — the reference's earlier DCT-II-like form cos(π f_k (n + ½)/D), f_k = linspace(100, 512, C).
/// - `random` — the reference code's `LLS_Random`: a fixed 0.1·N(0, 1) matrix drawn from the seed,
///   applied to the pooled features *without* L2 normalisation (its [C, hidden_dim] matrix is pooled to
///   D, and hidden_dim = D in every reference model, so the pooling is the identity), for the paper's
///   random-basis rows.
/// - `random-normalised` — this project's earlier random basis: N(0, ½) (rows of the sine basis's
///   expected norm √(D/2)) on the normalised features, like the periodic bases.
///
/// Bit-exact copies of PyTorch's basis would need its linspace rounding; the frequencies here are
/// computed in Double and rounded once to Float, then f·n is rounded to Float before the sine.
public enum ClassBasis: String, Sendable, CaseIterable {
    case sine, square, cosine, random
    case randomNormalised = "random-normalised"

    /// Whether the pooled features are L2-normalised before the projection (all but `random`, as the reference).
    public var normalisesFeatures: Bool { self != .random }

    /// linspace(low, high, count) rounded to Float.
    static func frequencies(_ low: Double, _ high: Double, count: Int) -> [Float] {
        guard count > 1 else { return [Float(low)] }
        return (0..<count).map { Float(low + (high - low) * Double($0) / Double(count - 1)) }
    }

    /// The [classes, features] basis; `seed` matters only for `random`.
    public func matrix(classes: Int, features: Int, seed: UInt64 = 1) -> Tensor {
        precondition(classes > 0 && features > 0, "a class basis needs classes > 0 and features > 0")
        switch self {
        case .sine, .square:
            let f = Self.frequencies(50, 512, count: classes)
            return Tensor(uninitializedShape: [classes, features]) { b in
                for k in 0..<classes {
                    for n in 0..<features {
                        let value = sinf(f[k] * Float(n))
                        b[k * features + n] = self == .sine ? value : (value > 0 ? 1 : (value < 0 ? -1 : 0))
                    }
                }
            }
        case .cosine:
            let f = Self.frequencies(100, 512, count: classes)
            let scale = Float.pi / Float(features)
            return Tensor(uninitializedShape: [classes, features]) { b in
                for k in 0..<classes {
                    for n in 0..<features { b[k * features + n] = cosf(scale * f[k] * (Float(n) + 0.5)) }
                }
            }
        case .random, .randomNormalised:
            var rng = SeededGenerator(seed: seed ^ 0x11_5BA5)
            let sd = self == .random ? Float(0.1) : Float(0.5).squareRoot()
            return Tensor(uninitializedShape: [classes, features]) { b in
                for i in 0..<b.count { b[i] = sd * rng.nextNormal() }
            }
        }
    }
}
