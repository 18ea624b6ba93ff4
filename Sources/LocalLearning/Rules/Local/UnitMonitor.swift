import Foundation

/// Running means of every unit's local loss and of its own head's training accuracy (the LLS
/// reference's per-layer loss log; the SLL paper's per-layer accuracy, A.2.3), as unit-local rules
/// train: the evidence of which unit limits a local rule. Units may report from several pipeline
/// threads; each MPI stage rank sees only its own units.
public final class UnitMonitor: @unchecked Sendable {
    /// One unit's figures over the steps since the last reset.
    public struct Figures: Sendable, Codable, Equatable {
        /// Index of the unit's last block in the model.
        public var block: Int
        public var name: String
        public var loss: Double
        /// nil when the unit's loss does not classify.
        public var accuracy: Double?
        public var samples: Int
    }

    private struct Sums {
        var loss = 0.0, correct = 0, seen = 0, classifies = true
    }

    private let lock = NSLock()
    private var sums: [Int: Sums] = [:]

    public init() {}

    public func record(block: Int, loss: Float, correct: Int?, count: Int) {
        lock.lock()
        defer { lock.unlock() }
        var entry = sums[block] ?? Sums()
        entry.loss += Double(loss) * Double(count)
        entry.seen += count
        if let correct { entry.correct += correct } else { entry.classifies = false }
        sums[block] = entry
    }

    /// The figures per unit, in block order, named after `model`'s blocks.
    public func figures(_ model: Model) -> [Figures] {
        lock.lock()
        defer { lock.unlock() }
        return sums.keys.sorted().map { block in
            let s = sums[block]!
            return Figures(block: block, name: model.blocks[block].name, loss: s.loss / Double(max(s.seen, 1)),
                           accuracy: s.classifies ? Double(s.correct) / Double(max(s.seen, 1)) : nil, samples: s.seen)
        }
    }

    public func reset() {
        lock.lock()
        sums.removeAll()
        lock.unlock()
    }
}
