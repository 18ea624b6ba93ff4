import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Update-vs-gradient angles")
struct UpdateAlignmentTests {
    static let batch = FeedbackAlignmentTests.batch

    func model(_ spec: String) throws -> Model {
        try ModelSpec.build(spec, inputShape: [1, 4, 4], classes: 3, seed: 5)
    }

    @Test func angleOfVectors() {
        let a = Tensor(shape: [2], scalars: [1, 0]), b = Tensor(shape: [2], scalars: [1, 1])
        #expect(abs(UpdateAlignment.angle(a, b)! - 45) < 1e-9)
        #expect(UpdateAlignment.angle(a, a.mapped { -$0 })! == 180)
        #expect(UpdateAlignment.angle(a, Tensor(shape: [2])) == nil)
    }

    @Test func backpropFollowsItsOwnGradient() throws {
        let angles = UpdateAlignment.measure(rule: Backprop(), model: try model("mlp:16-12x2-3:tanh"), batch: Self.batch)
        #expect(angles.count == 3)
        #expect(angles.allSatisfy { $0.degrees! < 0.1 }, "\(angles)")
    }

    @Test func faIsExactAtTheOutputAndOffElsewhere() throws {
        let angles = UpdateAlignment.measure(rule: FeedbackAlignment(), model: try model("mlp:16-12x2-3:tanh"), batch: Self.batch)
        #expect(angles.last!.degrees! < 0.1, "the output layer's error is exact: \(angles)")
        #expect(angles.dropLast().allSatisfy { $0.degrees! > 1 }, "\(angles)")
        #expect(angles.map(\.layer) == ["fc1.Linear(16→12)", "fc2.Linear(12→12)", "classifier.Linear(12→3)"])
    }

    @Test func measuringChangesNeitherWeightsNorRunningStatistics() throws {
        let m = try model("mlp:16-12-3:tanh:bn")
        let weights = m.parameters.map(\.value)
        let bn = m.layers.compactMap { $0 as? BatchNorm }.first!
        let stats = bn.runningStatistics
        _ = UpdateAlignment.measure(rule: DirectFeedbackAlignment(), model: m, batch: Self.batch)
        #expect(m.parameters.map(\.value) == weights)
        #expect(bn.runningStatistics.mean == stats.mean && bn.runningStatistics.variance == stats.variance)
    }

    @Test func adaFAStartsAlignedWithItsWeights() throws {
        let m = try model("mlp:16-12-3:tanh")
        let rows = FeedbackAlignment(feedback: .transposeAtInit).weightFeedbackAlignment(m)
        #expect(rows.allSatisfy { $0.degrees! < 1e-3 && abs($0.normRatio - 1) < 1e-9 })
        #expect(rows.map(\.layer) == ["fc1.Linear(16→12)", "classifier.Linear(12→3)"])
        let random = FeedbackAlignment().weightFeedbackAlignment(m)
        #expect(random.allSatisfy { $0.degrees! > 60 }, "independent random B is nearly orthogonal to W: \(random.map(\.degrees))")
    }
}
