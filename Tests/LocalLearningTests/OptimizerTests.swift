import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Optimizers and schedules")
struct OptimizerTests {
    func parameter(_ values: [Float], gradient: [Float]) -> Parameter {
        let p = Parameter(name: "p", value: Tensor(shape: [values.count], scalars: values))
        p.gradient = Tensor(shape: [values.count], scalars: gradient)
        return p
    }

    @Test func sgdMomentumMatchesPyTorch() {
        let p = parameter([1, -2], gradient: [0.5, 1])
        let sgd = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        sgd.update([p])   // d = g + 0.01w = [0.51, 0.98]; v = d
        #expect(abs(p.value[0] - (1 - 0.1 * 0.51)) < 1e-6)
        let w1 = p.value.scalars
        sgd.update([p])   // v = 0.9v + g + 0.01w
        let v0 = 0.9 * 0.51 + 0.5 + 0.01 * w1[0]
        #expect(abs(p.value[0] - (w1[0] - 0.1 * v0)) < 1e-6)
    }

    @Test func nesterovLooksAhead() {
        let p = parameter([0], gradient: [1])
        let sgd = SGD(learningRate: 1, momentum: 0.5, nesterov: true)
        sgd.update([p])   // v = 1; step = g + μv = 1.5
        #expect(p.value[0] == -1.5)
    }

    @Test func adamFirstStepIsLearningRateTimesSign() {
        let p = parameter([1, 1, 1], gradient: [3, -0.2, 1e-3])
        Adam(learningRate: 0.01).update([p])
        for (value, expected) in zip(p.value.scalars, [0.99, 1.01, 0.99] as [Float]) {
            #expect(abs(value - expected) < 1e-4)
        }
    }

    @Test func adamWDecaysDecoupled() {
        let p = parameter([2], gradient: [0])
        Adam(learningRate: 0.1, weightDecay: 0.5, decoupled: true).update([p])
        #expect(abs(p.value[0] - 2 * (1 - 0.05)) < 1e-6)
        let q = parameter([2], gradient: [0])
        Adam(learningRate: 0.1, weightDecay: 0.5, decoupled: false).update([q])
        #expect(abs(q.value[0] - (2 - 0.1)) < 1e-4)   // L2: g = λw = 1, first step moves by lr
    }

    @Test func adamaxFirstStep() {
        let p = parameter([0], gradient: [2])
        Adamax(learningRate: 0.1).update([p])   // m = 0.2, u = 2, step = 0.1/(0.1)·0.2/2 = 0.1
        #expect(abs(p.value[0] + 0.1) < 1e-6)
    }

    @Test func schedules() {
        let cosine = LearningRateSchedule.cosine(warmupSteps: 0)
        #expect(cosine.rate(base: 1, step: 0, totalSteps: 100, stepsPerEpoch: 10) == 1)
        #expect(abs(cosine.rate(base: 1, step: 50, totalSteps: 100, stepsPerEpoch: 10) - 0.5) < 1e-6)
        #expect(abs(cosine.rate(base: 1, step: 99, totalSteps: 100, stepsPerEpoch: 10)) < 1e-3)
        let warm = LearningRateSchedule.cosine(warmupSteps: 10)
        #expect(abs(warm.rate(base: 1, step: 4, totalSteps: 110, stepsPerEpoch: 10) - 0.5) < 1e-6)
        #expect(warm.rate(base: 1, step: 10, totalSteps: 110, stepsPerEpoch: 10) == 1)
        let step = LearningRateSchedule.step(everyEpochs: 2, factor: 0.1)
        #expect(step.rate(base: 1, step: 19, totalSteps: 100, stepsPerEpoch: 10) == 1)
        #expect(abs(step.rate(base: 1, step: 20, totalSteps: 100, stepsPerEpoch: 10) - 0.1) < 1e-7)
    }
}
