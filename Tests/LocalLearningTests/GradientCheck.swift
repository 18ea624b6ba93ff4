@testable import LocalLearning

/// Central finite-difference checks of a layer's backward against its forward.
///
/// The scalar objective is L = Σ r ⊙ forward(x) for a fixed random r, accumulated in Double;
/// backward(r) must give ∂L/∂x and every parameter's ∂L/∂θ.
enum GradientCheck {
    struct Report {
        var inputError: Double
        var parameterErrors: [String: Double]
        var worst: Double { ([inputError] + Array(parameterErrors.values)).max() ?? 0 }
    }

    static func objective(_ layer: Layer, _ x: Tensor, _ r: Tensor) -> Double {
        let y = layer.forward(x, mode: .training)
        var s = 0.0
        for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
        return s
    }

    /// Largest |analytic − numeric| relative to the largest |numeric| (or 1e-3, whichever is larger).
    static func relativeError(_ analytic: [Float], _ numeric: [Double]) -> Double {
        var diff = 0.0, scale = 1e-3
        for i in analytic.indices {
            diff = max(diff, abs(Double(analytic[i]) - numeric[i]))
            scale = max(scale, abs(numeric[i]))
        }
        return diff / scale
    }

    static func check(_ layer: Layer, input: Tensor, epsilon: Float = 1e-2, seed: UInt64 = 99) -> Report {
        var rng = SeededGenerator(seed: seed)
        let y = layer.forward(input, mode: .training)
        let r = Tensor.uniform(y.shape, bound: 1, using: &rng)
        _ = layer.forward(input, mode: .training)
        let dx = layer.backward(r, propagate: true)!
        let analyticParameters = layer.parameters.map { ($0.name, $0.gradient.scalars) }

        var numericInput = [Double](repeating: 0, count: input.count)
        var x = input
        for i in 0..<input.count {
            let original = x[i]
            x[i] = original + epsilon
            let plus = objective(layer, x, r)
            x[i] = original - epsilon
            let minus = objective(layer, x, r)
            x[i] = original
            numericInput[i] = (plus - minus) / (2 * Double(epsilon))
        }
        var parameterErrors: [String: Double] = [:]
        for (parameter, (name, analytic)) in zip(layer.parameters, analyticParameters) {
            var numeric = [Double](repeating: 0, count: parameter.value.count)
            for i in 0..<parameter.value.count {
                let original = parameter.value[i]
                parameter.value[i] = original + epsilon
                let plus = objective(layer, input, r)
                parameter.value[i] = original - epsilon
                let minus = objective(layer, input, r)
                parameter.value[i] = original
                numeric[i] = (plus - minus) / (2 * Double(epsilon))
            }
            // Composite layers have several parameters of one name: keep them apart.
            let key = parameterErrors[name] == nil ? name : "\(name)#\(parameterErrors.count)"
            parameterErrors[key] = relativeError(analytic, numeric)
        }
        return Report(inputError: relativeError(dx.scalars, numericInput), parameterErrors: parameterErrors)
    }

    /// Uniform values in ±1 kept at least `gap` away from 0 (the kink of ReLU-like functions).
    static func input(_ shape: [Int], awayFromZeroBy gap: Float = 0, seed: UInt64 = 1) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        return Tensor(uninitializedShape: shape) { p in
            for i in p.indices {
                var v = rng.nextUniform(-1, 1)
                while abs(v) < gap { v = rng.nextUniform(-1, 1) }
                p[i] = v
            }
        }
    }
}
