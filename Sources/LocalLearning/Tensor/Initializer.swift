/// Weight initialisers. `fanIn`/`fanOut` follow PyTorch: for a weight of shape [out, in, k…],
/// fanIn = in·∏k and fanOut = out·∏k.
public enum Initializer: String, Sendable, CaseIterable {
    /// PyTorch's default for Linear and Conv2d: kaiming_uniform(a=√5), i.e. U(−1/√fanIn, 1/√fanIn).
    case pytorchDefault = "pytorch"
    /// Glorot & Bengio: U(−√(6/(fanIn+fanOut)), +…).
    case xavierUniform = "xavier-uniform"
    /// Glorot & Bengio: N(0, 2/(fanIn+fanOut)).
    case xavierNormal = "xavier-normal"
    /// He et al. for ReLU: U(−√(6/fanIn), +…).
    case kaimingUniform = "kaiming-uniform"
    /// He et al. for ReLU: N(0, 2/fanIn).
    case kaimingNormal = "kaiming-normal"
    /// Convolutions N(0, 2/fanOut) = N(0, 2/(k²·out)) and linear layers as `pytorch`: how the AugLocal
    /// and DGL reference code (like torchvision's CIFAR ResNets) initialise their networks.
    case heNormalConvolutions = "he-normal-conv"

    /// Fan-in and fan-out of a weight of `shape` = [out, in, kernel dims…].
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        precondition(shape.count >= 2, "a weight needs at least 2 dimensions, got \(shape)")
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// The standard deviation of the distribution this initialiser draws from for `shape`.
    public func standardDeviation(for shape: [Int]) -> Float {
        let (fanIn, fanOut) = Initializer.fans(shape)
        switch self {
        case .pytorchDefault: return 1 / Float(fanIn).squareRoot() / Float(3).squareRoot()
        case .xavierUniform, .xavierNormal: return (2 / Float(fanIn + fanOut)).squareRoot()
        case .kaimingUniform, .kaimingNormal: return (2 / Float(fanIn)).squareRoot()
        case .heNormalConvolutions:
            return shape.count > 2 ? (2 / Float(fanOut)).squareRoot() : Initializer.pytorchDefault.standardDeviation(for: shape)
        }
    }

    /// A fresh weight tensor of `shape`.
    public func make(_ shape: [Int], using rng: inout SeededGenerator) -> Tensor {
        let (fanIn, fanOut) = Initializer.fans(shape)
        let bound: Float
        switch self {
        case .pytorchDefault: bound = 1 / Float(fanIn).squareRoot()
        case .xavierUniform: bound = (6 / Float(fanIn + fanOut)).squareRoot()
        case .kaimingUniform: bound = (6 / Float(fanIn)).squareRoot()
        case .xavierNormal, .kaimingNormal:
            return Tensor.normal(shape, standardDeviation: standardDeviation(for: shape), using: &rng)
        case .heNormalConvolutions:
            guard shape.count > 2 else { return Initializer.pytorchDefault.make(shape, using: &rng) }
            return Tensor.normal(shape, standardDeviation: standardDeviation(for: shape), using: &rng)
        }
        return Tensor.uniform(shape, bound: bound, using: &rng)
    }
}

extension Tensor {
    /// Elements drawn from U(−bound, bound).
    public static func uniform(_ shape: [Int], bound: Float, using rng: inout SeededGenerator) -> Tensor {
        Tensor(uninitializedShape: shape) { p in
            for i in p.indices { p[i] = rng.nextUniform(-bound, bound) }
        }
    }

    /// Elements drawn from N(0, std²).
    public static func normal(_ shape: [Int], standardDeviation std: Float, using rng: inout SeededGenerator) -> Tensor {
        Tensor(uninitializedShape: shape) { p in
            for i in p.indices { p[i] = std * rng.nextNormal() }
        }
    }
}
