import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Conservation law of feedback alignment")
struct ConservationLawTests {
    static let batch = FeedbackAlignmentTests.batch

    /// Per hidden neuron: ½Δ‖w_in‖² − ½‖Δw_in‖² − Δ⟨w_out, b⟩ after the last of `steps` steps,
    /// relative to the largest term.
    func identityResiduals(rule: FeedbackAlignment, optimizer: Optimizer, steps: Int) throws -> Double {
        let model = try ModelSpec.build("mlp:16-12-3:leakyrelu0.1", inputShape: [1, 4, 4], classes: 3, seed: 9)
        rule.prepare(model)
        let pair = ConservationLaw.pairs(model)[0]
        for _ in 0..<(steps - 1) { _ = rule.step(model: model, batch: Self.batch, optimizer: optimizer) }
        let b = rule.feedbackMatrix(for: pair.outgoing)
        let w0 = pair.incoming.weight.value, bias0 = pair.incoming.bias!.value
        let (in0, out0) = ConservationLaw.terms(pair, feedback: b)
        _ = rule.step(model: model, batch: Self.batch, optimizer: optimizer)
        let (in1, out1) = ConservationLaw.terms(pair, feedback: b)
        var worst = 0.0, largest = 0.0
        for i in 0..<12 {
            var stepSquared = Double(pair.incoming.bias!.value[i] - bias0[i]) * Double(pair.incoming.bias!.value[i] - bias0[i])
            for j in 0..<16 {
                let d = Double(pair.incoming.weight.value[i * 16 + j] - w0[i * 16 + j])
                stepSquared += d * d
            }
            let lhs = (in1[i] - in0[i]) - stepSquared / 2, rhs = out1[i] - out0[i]
            worst = max(worst, abs(lhs - rhs))
            largest = max(largest, abs(lhs), abs(rhs))
        }
        return worst / largest
    }

    @Test(arguments: [FeedbackAlignment.Feedback.random(.xavierUniform), .transposeAtInit])
    func perStepIdentityHoldsWithPlainSGD(_ feedback: FeedbackAlignment.Feedback) throws {
        let residual = try identityResiduals(rule: FeedbackAlignment(feedback: feedback), optimizer: SGD(learningRate: 0.05), steps: 3)
        #expect(residual < 1e-3, "relative residual \(residual)")
    }

    @Test func identityFailsWithMomentum() throws {
        let residual = try identityResiduals(rule: FeedbackAlignment(), optimizer: SGD(learningRate: 0.05, momentum: 0.9), steps: 3)
        #expect(residual > 1e-2, "momentum should break the per-step law, residual \(residual)")
    }

    @Test func trackerStartsAtZeroAndDriftsOnlyByFiniteSteps() throws {
        let model = try ModelSpec.build("mlp:16-12x2-3:relu", inputShape: [1, 4, 4], classes: 3, seed: 9)
        let rule = FeedbackAlignment()
        rule.prepare(model)
        let tracker = ConservationLaw.Tracker(model: model) { rule.feedbackMatrix(for: $0) }
        #expect(tracker.layers.count == 2)
        #expect(tracker.deviations() == [0, 0])
        for _ in 0..<5 { _ = rule.step(model: model, batch: Self.batch, optimizer: SGD(learningRate: 1e-3)) }
        let small = tracker.deviations()
        #expect(small.allSatisfy { $0 > 0 && $0 < 1e-3 }, "\(small)")
    }

    @Test func pairsOfEqualShapesHaveDistinctNames() throws {
        let model = try ModelSpec.build("mlp:16-8x4-3:tanh", inputShape: [1, 4, 4], classes: 3)
        let names = ConservationLaw.Tracker(model: model) { _ in nil }.layers
        #expect(names == ["fc1→fc2", "fc2→fc3", "fc3→fc4", "fc4→classifier"])
    }

    @Test func pairsStopAtBatchNorm() throws {
        let model = try ModelSpec.build("mlp:16-12x2-3:relu:bn", inputShape: [1, 4, 4], classes: 3)
        #expect(ConservationLaw.pairs(model).isEmpty)
    }
}

@Suite("FA conservation experiment")
struct FAConservationExperimentTests {
    @Test func noisySubsetChangesExactlyTheRequestedFraction() {
        let data = TrainingTests.blobs(count: 300, seed: 1)
        let (subset, clean) = FAConservationExperiment.noisySubset(data, samples: 200, noise: 0.25, seed: 3)
        #expect(subset.count == 200)
        #expect(zip(subset.labels, clean).filter { $0 != $1 }.count == 50)
        #expect(subset.labels.allSatisfy { (0..<3).contains($0) })
        // Same seed, same subset.
        #expect(FAConservationExperiment.noisySubset(data, samples: 200, noise: 0.25, seed: 3).0.labels == subset.labels)
    }

    @Test func tinyRunFillsEveryColumn() throws {
        var configuration = FAConservationExperiment.Configuration()
        (configuration.samples, configuration.widths, configuration.epochs, configuration.learningRate) = (120, [6], 60, 0.5)
        let data = TrainingTests.blobs(count: 240, seed: 1)
        let rows = try FAConservationExperiment.run(configuration, train: data, test: TrainingTests.blobs(count: 60, seed: 2))
        #expect(rows.map(\.rule) == ["bp", "fa", "adafa", "signfa"])
        #expect(rows.first!.lastLayerFeedbackAngle == 0 && rows.first!.hiddenUpdateAngle! < 0.1)
        #expect(rows.allSatisfy { $0.conservationDrift.isFinite && $0.ratioDeviation.isFinite && (0...1).contains($0.testAccuracy) })
        #expect(rows.first!.testAccuracy > 0.5, "BP should learn the blobs: \(rows.first!.testAccuracy)")
    }
}
