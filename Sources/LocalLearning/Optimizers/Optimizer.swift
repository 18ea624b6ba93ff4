import Foundation

/// Updates parameters from the gradients a learning rule wrote into them.
public protocol Optimizer: AnyObject {
    /// The step size of the next update; a schedule sets it before each step.
    var learningRate: Float { get set }
    /// Updates `parameters` with step size `learningRate` (the stored rate is not used or changed).
    /// Calls for disjoint parameter lists may run on different threads at once.
    func update(_ parameters: [Parameter], learningRate: Float)
    /// Bytes of per-parameter state (moments) held now.
    var stateBytes: Int { get }
}

extension Optimizer {
    /// Updates `parameters` with the stored `learningRate`.
    public func update(_ parameters: [Parameter]) { update(parameters, learningRate: learningRate) }
}

/// Per-parameter state of an optimizer, created on first use and keyed by the parameter's identity.
final class OptimizerSlots {
    final class Slot {
        var first: [Float]
        var second: [Float]
        var steps = 0
        init(first: Int, second: Int) {
            self.first = [Float](repeating: 0, count: first)
            self.second = [Float](repeating: 0, count: second)
        }
    }

    private var slots: [ObjectIdentifier: Slot] = [:]
    /// Guards `slots`: pipeline stages update disjoint parameters concurrently, but share the table.
    private let lock = NSLock()
    /// How many moment buffers each slot holds (SGD without momentum: none).
    let moments: Int

    init(moments: Int) {
        precondition((0...2).contains(moments))
        self.moments = moments
    }

    var bytes: Int { lock.withLock { slots.values.reduce(0) { $0 + ($1.first.count + $1.second.count) * MemoryLayout<Float>.stride } } }

    /// The slot of `parameter` if it has one (no slot is created).
    func existingSlot(for parameter: Parameter) -> Slot? { lock.withLock { slots[ObjectIdentifier(parameter)] } }

    func slot(for parameter: Parameter) -> Slot {
        lock.lock()
        defer { lock.unlock() }
        let key = ObjectIdentifier(parameter)
        if let slot = slots[key] { return slot }
        let slot = Slot(first: moments >= 1 ? parameter.value.count : 0, second: moments >= 2 ? parameter.value.count : 0)
        slots[key] = slot
        return slot
    }
}

/// Parses optimizer names for the CLI.
public enum OptimizerKind: String, CaseIterable, Sendable, Codable {
    case sgd, adam, adamw, adamax

    /// nil when the hyperparameters are usable, else a one-line reason naming the option: the
    /// learning rate positive, weight decay ≥ 0, SGD momentum in [0, 1), all finite.
    public func refusal(learningRate: Float, momentum: Float, weightDecay: Float) -> String? {
        if !(learningRate > 0 && learningRate.isFinite) { return "--lr must be a positive number, got \(learningRate)" }
        if !(weightDecay >= 0 && weightDecay.isFinite) { return "--weight-decay must be a number ≥ 0, got \(weightDecay)" }
        if !(momentum >= 0 && momentum < 1) {
            return "--momentum must be in [0, 1) (SGD's velocity grows without bound at 1 and above), got \(momentum)"
        }
        return nil
    }

    public func make(learningRate: Float, momentum: Float, nesterov: Bool, weightDecay: Float) -> Optimizer {
        switch self {
        case .sgd: SGD(learningRate: learningRate, momentum: momentum, nesterov: nesterov, weightDecay: weightDecay)
        case .adam: Adam(learningRate: learningRate, weightDecay: weightDecay, decoupled: false)
        case .adamw: Adam(learningRate: learningRate, weightDecay: weightDecay, decoupled: true)
        case .adamax: Adamax(learningRate: learningRate, weightDecay: weightDecay)
        }
    }
}
