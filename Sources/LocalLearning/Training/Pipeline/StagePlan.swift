/// How a unit-local rule's units are split into consecutive pipeline stages; the last stage also
/// trains the global tail and the classifier.
public struct StagePlan: Sendable, Equatable, CustomStringConvertible {
    /// Per stage, the indices (into the rule's list of units) of the units it trains.
    public let stages: [Range<Int>]

    public init(stages: [Range<Int>]) {
        precondition(!stages.isEmpty && stages.first!.lowerBound == 0
                     && zip(stages, stages.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound },
                     "stages must cover the units in order")
        self.stages = stages
    }

    public var count: Int { stages.count }

    public var description: String {
        stages.enumerated().map { index, units in
            let what = switch units.count {
            case 0: "classifier"
            case 1: "unit \(units.lowerBound)"
            default: "units \(units.lowerBound)–\(units.upperBound - 1)"
            }
            return "stage \(index + 1): \(what)"
        }.joined(separator: ", ")
    }

    /// The blocks stage `stage` trains: its units' blocks, and for the last stage the blocks after the
    /// last unit (global tail and classifier).
    public func blocks(ofStage stage: Int, units: [ClosedRange<Int>], blockCount: Int) -> [Int] {
        var blocks = stages[stage].flatMap { Array(units[$0]) }
        if stage == count - 1 { blocks += Array((units.last.map { $0.upperBound + 1 } ?? 0)..<blockCount) }
        return blocks
    }

    /// `count` stages of consecutive units whose largest training cost is as small as possible.
    /// `unitCosts[i]` is unit i's cost; `topCost` (tail and classifier) goes to the last stage.
    /// Every stage but possibly the last gets at least one unit.
    public static func balanced(unitCosts: [Int], topCost: Int, count: Int) -> StagePlan {
        let n = unitCosts.count
        precondition(count >= 1 && count <= n + 1, "\(count) stages for \(n) units")
        var prefix = [0]
        for cost in unitCosts { prefix.append(prefix.last! + cost) }
        // best[s][i]: the smallest largest stage cost splitting units 0..<i into s stages; cut[s][i]: where the last begins.
        var best = [[Int]](repeating: [Int](repeating: .max, count: n + 1), count: count + 1)
        var cut = [[Int]](repeating: [Int](repeating: 0, count: n + 1), count: count + 1)
        best[0][0] = 0
        for s in 1...count {
            for i in 0...n {
                let last = s == count
                guard last || i >= s else { continue }
                for j in (s - 1)...max(s - 1, i) where j <= i && best[s - 1][j] != .max {
                    guard last || j < i else { continue }
                    let load = prefix[i] - prefix[j] + (last ? topCost : 0)
                    let worst = max(best[s - 1][j], load)
                    if worst < best[s][i] { (best[s][i], cut[s][i]) = (worst, j) }
                }
            }
        }
        var bounds = [n]
        for s in stride(from: count, to: 0, by: -1) { bounds.append(cut[s][bounds.last!]) }
        bounds.reverse()
        return StagePlan(stages: zip(bounds, bounds.dropFirst()).map { $0..<$1 })
    }

    /// Every unit its own stage, and the global tail and classifier one more: the finest plan, for
    /// worker threads that share the stages (`PipelinedTraining(threads:)`).
    public static func perUnit(unitCount: Int) -> StagePlan {
        StagePlan(stages: (0..<unitCount).map { $0..<($0 + 1) } + [unitCount..<unitCount])
    }

    /// Stages that begin at the given unit indices (after the first, which begins at 0), e.g. [2, 4]
    /// for three stages: units 0–1, 2–3, 4 onwards.
    public static func starting(at boundaries: [Int], unitCount: Int) throws -> StagePlan {
        let bounds = [0] + boundaries + [unitCount]
        guard zip(bounds, bounds.dropFirst()).allSatisfy({ $0 < $1 || ($0 == $1 && $1 == unitCount) }),
              boundaries.allSatisfy({ $0 > 0 && $0 <= unitCount }) else {
            throw PipelineError.badBoundaries("stage boundaries \(boundaries.map(String.init).joined(separator: ",")) must increase "
                                              + "strictly within 1…\(unitCount) (the model has \(unitCount) locally trained units)")
        }
        return StagePlan(stages: zip(bounds, bounds.dropFirst()).map { $0..<$1 })
    }
}

/// Why a pipelined run cannot be set up.
public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case badBoundaries(String)
    case notPipelinable(String)

    public var description: String {
        switch self {
        case let .badBoundaries(message), let .notPipelinable(message): message
        }
    }
}
