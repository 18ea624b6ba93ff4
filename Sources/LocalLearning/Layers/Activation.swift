/// What Sign's backward sends to its input: sign is flat almost everywhere, so its true derivative is 0.
public enum SignBackward: String, Sendable, CaseIterable {
    /// The true derivative: no signal passes.
    case zero
    /// Straight-through estimator: the gradient passes unchanged.
    case straightThrough = "straight-through"
}

/// An elementwise nonlinearity φ, usable as a layer and as a plain function (rules that build
/// targets through φ call `apply`).
public enum ActivationFunction: Sendable, Equatable {
    case relu
    case leakyReLU(slope: Float)
    case tanh
    case sigmoid
    case elu(alpha: Float)
    case sign(backward: SignBackward)
    case identity
    /// GELU, tanh form (Hendrycks & Gimpel 2016): ½x(1 + tanh(√(2/π)(x + 0.044715x³))) — PyTorch's
    /// `GELU(approximate="tanh")`, within 1e-3 of the erf form.
    case gelu

    /// Parses `relu`, `leakyrelu`, `leakyrelu0.2`, `tanh`, `sigmoid`, `elu`, `sign`, `sign-ste`, `identity`.
    public init?(name: String) {
        switch name.lowercased() {
        case "relu": self = .relu
        case "leakyrelu", "lrelu": self = .leakyReLU(slope: 0.01)
        case "tanh": self = .tanh
        case "sigmoid": self = .sigmoid
        case "elu": self = .elu(alpha: 1)
        case "sign": self = .sign(backward: .zero)
        case "sign-ste": self = .sign(backward: .straightThrough)
        case "identity", "linear": self = .identity
        case "gelu": self = .gelu
        default:
            for prefix in ["leakyrelu", "lrelu"] where name.lowercased().hasPrefix(prefix) {
                // A slope in [0, 1): `leakyrelu-5` is no activation (it reads like a negative slope).
                if let slope = Float(name.dropFirst(prefix.count)), slope >= 0, slope < 1 { self = .leakyReLU(slope: slope); return }
            }
            return nil
        }
    }

    public static let names = "relu, leakyrelu[SLOPE in [0, 1)], tanh, sigmoid, elu, gelu, sign, sign-ste, identity"

    public var name: String {
        switch self {
        case .relu: "ReLU"
        case let .leakyReLU(slope): "LeakyReLU(\(slope))"
        case .tanh: "Tanh"
        case .sigmoid: "Sigmoid"
        case let .elu(alpha): "ELU(\(alpha))"
        case let .sign(backward): "Sign(\(backward.rawValue))"
        case .identity: "Identity"
        case .gelu: "GELU"
        }
    }

    /// y = φ(x) elementwise.
    public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .relu: for i in 0..<count { y[i] = x[i] > 0 ? x[i] : 0 }
        case let .leakyReLU(slope): for i in 0..<count { y[i] = x[i] > 0 ? x[i] : slope * x[i] }
        case .tanh: VectorMath.tanh(x, y, count: count)
        case .sigmoid: VectorMath.sigmoid(x, y, count: count)
        case let .elu(alpha):
            for i in 0..<count {
                let negative = alpha * (VectorMath.exp(x[i] < 0 ? x[i] : 0) - 1)
                y[i] = x[i] > 0 ? x[i] : negative
            }
        case .sign: for i in 0..<count { y[i] = x[i] > 0 ? 1 : (x[i] < 0 ? -1 : 0) }
        case .identity: y.update(from: x, count: count)
        case .gelu:
            // y holds the tanh argument, then tanh of it, then the result.
            for i in 0..<count { y[i] = Self.geluScale * (x[i] + Self.geluCubic * x[i] * x[i] * x[i]) }
            VectorMath.tanh(y, y, count: count)
            for i in 0..<count { y[i] = 0.5 * x[i] * (1 + y[i]) }
        }
    }

    static let geluScale: Float = 0.7978845608028654   // √(2/π)
    static let geluCubic: Float = 0.044715

    public func apply(_ x: Tensor) -> Tensor {
        Tensor(uninitializedShape: x.shape) { y in
            x.withUnsafeBufferPointer { x in
                Parallel.forRanges(x.count, costPerItem: 4) { r in
                    apply(x.baseAddress! + r.lowerBound, y.baseAddress! + r.lowerBound, count: r.count)
                }
            }
        }
    }

    /// dx = dy ⊙ φ'(x), from the forward input x and output y (each function reads the one it needs).
    public func backward(input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                         outputGradient dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        // Branch-free 8-lane selects: a data-dependent branch per element mispredicts on half the inputs.
        case .relu: Self.select(count, dx, gate: y, dy) { gate, d in d.replacing(with: 0, where: gate .<= 0) }
        case let .leakyReLU(slope):
            Self.select(count, dx, gate: x, dy) { gate, d in d.replacing(with: d * slope, where: gate .<= 0) }
        case .tanh: for i in 0..<count { dx[i] = dy[i] * (1 - y[i] * y[i]) }
        case .sigmoid: for i in 0..<count { dx[i] = dy[i] * y[i] * (1 - y[i]) }
        case let .elu(alpha): for i in 0..<count { dx[i] = x[i] > 0 ? dy[i] : dy[i] * (y[i] + alpha) }
        case let .sign(backward):
            switch backward {
            case .zero: dx.update(repeating: 0, count: count)
            case .straightThrough: dx.update(from: dy, count: count)
            }
        case .identity: dx.update(from: dy, count: count)
        case .gelu:
            // dx holds u, then t = tanh u, then the result: ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²).
            for i in 0..<count { dx[i] = Self.geluScale * (x[i] + Self.geluCubic * x[i] * x[i] * x[i]) }
            VectorMath.tanh(dx, dx, count: count)
            for i in 0..<count {
                let t = dx[i], x2 = x[i] * x[i]
                dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * x[i] * (1 - t * t) * Self.geluScale * (1 + 3 * Self.geluCubic * x2))
            }
        }
    }
}

extension ActivationFunction {
    /// dx[i] = rule(gate[i], dy[i]) over 8-lane vectors, the tail lane by lane.
    @inline(__always)
    static func select(_ count: Int, _ dx: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                       _ rule: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) {
        let vectors = count / 8
        let g = UnsafeRawPointer(gate), d = UnsafeRawPointer(dy), out = UnsafeMutableRawPointer(dx)
        for v in 0..<vectors {
            let offset = v * 32
            let result = rule(g.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self),
                              d.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self))
            out.storeBytes(of: result, toByteOffset: offset, as: SIMD8<Float>.self)
        }
        for i in (vectors * 8)..<count {
            var lanes = SIMD8<Float>(repeating: 0), grad = SIMD8<Float>(repeating: 0)
            lanes[0] = gate[i]
            grad[0] = dy[i]
            dx[i] = rule(lanes, grad)[0]
        }
    }
}

/// A layer applying an `ActivationFunction` elementwise.
public final class Activation: Layer {
    public let function: ActivationFunction
    private var input = Tensor(shape: [0])
    private var output = Tensor(shape: [0])

    public init(_ function: ActivationFunction) { self.function = function }

    public var heldBuffers: [HeldBuffer] { [input, output].compactMap(\.heldBuffer) }
    public func releaseHeld() {
        input = Tensor(shape: [0])
        output = Tensor(shape: [0])
    }

    public var summary: String { function.name }

    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        let y = function.apply(input)
        if mode.keepsForBackward {
            self.input = input
            output = y
        }
        return y
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        guard propagate else { return nil }
        precondition(outputGradient.shape == output.shape, "\(summary): backward without a matching training forward")
        return Tensor(uninitializedShape: output.shape) { dx in
            input.withUnsafeBufferPointer { x in
                output.withUnsafeBufferPointer { y in
                    outputGradient.withUnsafeBufferPointer { dy in
                        Parallel.forRanges(dx.count, costPerItem: 2) { r in
                            let i = r.lowerBound
                            function.backward(input: x.baseAddress! + i, output: y.baseAddress! + i,
                                              outputGradient: dy.baseAddress! + i, into: dx.baseAddress! + i, count: r.count)
                        }
                    }
                }
            }
        }
    }
}
