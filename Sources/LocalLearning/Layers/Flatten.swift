/// Reshapes [N, d1, d2, …] to [N, d1·d2·…]; backward restores the shape.
public final class Flatten: Layer {
    private var inputShape: [Int] = []

    public init() {}

    public var summary: String { "Flatten" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] { [inputShape.reduce(1, *)] }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        if mode.keepsForBackward { inputShape = input.shape }
        return input.reshaped([input.shape[0], input.count / max(input.shape[0], 1)])
    }

    public func backward(_ outputGradient: Tensor, propagate: Bool) -> Tensor? {
        guard propagate else { return nil }
        precondition(!inputShape.isEmpty, "Flatten: backward without a training forward")
        return outputGradient.reshaped(inputShape)
    }
}
