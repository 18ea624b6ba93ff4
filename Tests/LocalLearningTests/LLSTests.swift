import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("LLS: class basis, local loss, blockwise training")
struct LLSTests {
    @Test func sineAndSquareBasisMatchTheFormula() {
        let sine = ClassBasis.sine.matrix(classes: 10, features: 512)
        let square = ClassBasis.square.matrix(classes: 10, features: 512)
        #expect(sine.shape == [10, 512])
        // f = linspace(50, 512, 10): f_0 = 50, f_1 = 101.333…, f_9 = 512 (values from NumPy in float32).
        #expect(abs(sine[0 * 512 + 1] - (-0.26237485)) < 1e-6)
        #expect(abs(sine[9 * 512 + 3] - 0.23654424) < 1e-5)
        #expect(abs(sine[1 * 512 + 7] - (-0.6182905)) < 1e-5)
        for k in 0..<10 {
            #expect(sine[k * 512] == 0 && square[k * 512] == 0, "n = 0 has weight 0")
            for n in 1..<512 { #expect(square[k * 512 + n] == (sine[k * 512 + n] > 0 ? 1 : -1)) }
        }
        let cosine = ClassBasis.cosine.matrix(classes: 10, features: 64)
        #expect(abs(cosine[0] - Float(cos(Double.pi * 100 * 0.5 / 64))) < 1e-6)
    }

    /// Largest |cosine| between two different rows.
    static func largestRowCosine(_ b: Tensor) -> Double {
        let (rows, width) = (b.shape[0], b.shape[1])
        var worst = 0.0
        for i in 0..<rows {
            for j in 0..<i {
                var dot = 0.0, ni = 0.0, nj = 0.0
                for n in 0..<width {
                    let (x, y) = (Double(b[i * width + n]), Double(b[j * width + n]))
                    dot += x * y; ni += x * x; nj += y * y
                }
                worst = max(worst, abs(dot) / (ni * nj).squareRoot())
            }
        }
        return worst
    }

    @Test func basisRowsAreNearlyOrthogonal() {
        // NumPy in float32 gives 0.0096 (sine) and 0.041 (square) for C = 10, D = 512.
        #expect(Self.largestRowCosine(ClassBasis.sine.matrix(classes: 10, features: 512)) < 0.02)
        #expect(Self.largestRowCosine(ClassBasis.square.matrix(classes: 10, features: 512)) < 0.06)
        #expect(Self.largestRowCosine(ClassBasis.random.matrix(classes: 10, features: 512)) < 0.2)
    }

    /// The reference's LLS_Random: a fixed 0.1·N(0, 1) basis on un-normalised pooled features.
    @Test func randomBasisIsTheReferencesLLSRandom() {
        let big = ClassBasis.random.matrix(classes: 10, features: 512, seed: 3)
        let std = (big.scalars.reduce(0) { $0 + Double($1 * $1) } / Double(big.count)).squareRoot()
        #expect(abs(std - 0.1) < 0.005, "\(std)")
        let head = LLSHead(activationShape: [6], classes: 3, poolSize: 6, basis: .random, temperature: 0.5, seed: 2)
        let x = Tensor(shape: [2, 6], scalars: [0.5, -1, 2, 0.25, 3, -0.5, 1, 1, -2, 0.5, 0, 4])
        let labels: [Int32] = [0, 2]
        var expected = 0.0
        for n in 0..<2 {
            let logits = (0..<3).map { k in (0..<6).reduce(0.0) { $0 + Double(x[n * 6 + $1]) * Double(head.basis[k * 6 + $1]) } / 0.5 }
            let top = logits.max()!
            expected += -(logits[Int(labels[n])] - top - log(logits.reduce(0) { $0 + exp($1 - top) })) / 2
        }
        #expect(abs(Double(head.lossAndGradient(x, labels: labels).loss) - expected) < 1e-5)
        #expect(ClassBasis.random.normalisesFeatures == false && ClassBasis.randomNormalised.normalisesFeatures)
        let (activationError, _) = Self.headGradientErrors(head, shape: [2, 6], labels: labels)
        #expect(activationError < 1e-2)
    }

    /// |analytic − numeric| / max|numeric| for ∂loss/∂activation and the modulation's gradient.
    static func headGradientErrors(_ head: LLSHead, shape: [Int], labels: [Int32]) -> (Double, Double) {
        let input = GradientCheck.input(shape, seed: 5).mapped { $0 + 0.3 }
        let analytic = head.lossAndGradient(input, labels: labels)
        let modulationGradient = head.modulationParameter?.gradient
        let epsilon: Float = 1e-2
        func loss(_ x: Tensor) -> Double { Double(head.lossAndGradient(x, labels: labels).loss) }
        var x = input
        var numeric = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let original = x[i]
            x[i] = original + epsilon; let plus = loss(x)
            x[i] = original - epsilon; let minus = loss(x)
            x[i] = original
            numeric[i] = (plus - minus) / Double(2 * epsilon)
        }
        var modulationError = 0.0
        if let m = head.modulationParameter, let analyticM = modulationGradient {
            var numericM = [Double](repeating: 0, count: m.value.count)
            for i in 0..<m.value.count {
                let original = m.value[i]
                m.value[i] = original + epsilon; let plus = loss(input)
                m.value[i] = original - epsilon; let minus = loss(input)
                m.value[i] = original
                numericM[i] = (plus - minus) / Double(2 * epsilon)
            }
            modulationError = GradientCheck.relativeError(analyticM.scalars, numericM)
        }
        return (GradientCheck.relativeError(analytic.gradient.scalars, numeric), modulationError)
    }

    @Test(arguments: LLSHead.Modulation.allCases)
    func localLossBackwardMatchesFiniteDifferences(modulation: LLSHead.Modulation) {
        let labels: [Int32] = [0, 2, 1]
        // Conv activation pooled 5×5 → 2×2 (overlapping windows), a linear one pooled 12 → 5, and an unpooled one.
        for (shape, pool) in [([3, 3, 5, 5], 2), ([3, 12], 5), ([3, 12], 12)] {
            let head = LLSHead(activationShape: Array(shape.dropFirst()), classes: 3, poolSize: pool, basis: .sine,
                               temperature: 0.5, modulation: modulation)
            if let m = head.modulationParameter { m.value = m.value.mapped { $0 * 100 } }  // away from 0, so the loss depends on it
            let (inputError, modulationError) = Self.headGradientErrors(head, shape: shape, labels: labels)
            #expect(inputError < 2e-2, "\(shape) pool \(pool): input gradient error \(inputError)")
            #expect(modulationError < 2e-2, "\(shape) pool \(pool): modulation gradient error \(modulationError)")
        }
    }

    @Test func llsMWithUnitModulationEqualsLLS() {
        let plain = LLSHead(activationShape: [4, 6, 6], classes: 5, poolSize: 2, basis: .square)
        let modulated = LLSHead(activationShape: [4, 6, 6], classes: 5, poolSize: 2, basis: .square, modulation: .vector)
        modulated.modulationParameter!.value = Tensor(shape: [5], repeating: 1)
        let x = GradientCheck.input([3, 4, 6, 6], seed: 8)
        let labels: [Int32] = [4, 0, 2]
        let a = plain.lossAndGradient(x, labels: labels), b = modulated.lossAndGradient(x, labels: labels)
        #expect(a.loss == b.loss)
        #expect(a.gradient == b.gradient)
    }

    @Test func noGradientReachesAnEarlierBlock() throws {
        // Same seed, same first block; different later blocks. One LLS step must move fc1 identically.
        let data = TrainingTests.blobs(count: 32, seed: 1)
        let batch = Batch(images: data.images, labels: data.labels)
        var firstBlocks: [[Tensor]] = []
        for spec in ["mlp:16-12-3:relu:bn", "mlp:16-12-20-7-3:relu:bn"] {
            let model = try ModelSpec.build(spec, inputShape: data.sampleShape, classes: 3, seed: 4)
            _ = LLS().step(model: model, batch: batch, optimizer: SGD(learningRate: 0.1))
            firstBlocks.append(model.blocks[0].parameters.map(\.value))
        }
        #expect(firstBlocks[0] == firstBlocks[1])
        // And the step did move it.
        let fresh = try ModelSpec.build("mlp:16-12-3:relu:bn", inputShape: data.sampleShape, classes: 3, seed: 4)
        #expect(fresh.blocks[0].parameters.map(\.value) != firstBlocks[0])
    }

    @Test(arguments: ["lls", "lls-m", "lls-mxm"])
    func trainsAGeneratedProblem(rule name: String) throws {
        let data = TrainingTests.blobs(count: 240, seed: 1)
        let model = try ModelSpec.build("cnn:8,M,8:fc16", inputShape: data.sampleShape, classes: 3, seed: 2)
        let rule = RuleRegistry.make(name, seed: 1)!
        let trainer = Trainer(model: model, rule: rule, optimizer: Adam(learningRate: 5e-3, decoupled: true), schedule: .constant,
                              trainLoader: DataLoader(dataset: data, batchSize: 32, seed: 1),
                              testSet: TrainingTests.blobs(count: 90, seed: 2), epochs: 10)
        let reports = try trainer.run()
        #expect(reports.last!.trainLoss < reports.first!.trainLoss * 0.7, "\(reports.map(\.trainLoss))")
        #expect(reports.last!.testAccuracy > 0.9, "\(reports.map(\.testAccuracy)) \(reports.map(\.trainLoss))")
    }

    @Test func signalIsTakenBeforeTheMaxPool() throws {
        let model = try ModelSpec.build("cnn:4,M,6,A2:fc8", inputShape: [1, 8, 8], classes: 3)
        #expect(SignalTap.hiddenShapes(of: model) == [[4, 8, 8], [6, 4, 4], [8]])
        let lls = LLS()
        lls.prepare(model)
        #expect(lls.heads.map(\.features) == [4 * 16, 6 * 4, 8])
    }
}

@Suite("Per-unit evidence of local rules")
struct UnitMonitorTests {
    /// The monitor holds, per unit, the local loss and head accuracy of the step's own forward pass:
    /// for the first unit, what its LLS head gives on the first block's activation before the update.
    @Test func theMonitorRecordsEachUnitsLocalLossAndHeadAccuracy() throws {
        let data = TrainingTests.blobs(count: 48, seed: 4)
        let model = try ModelSpec.build("mlp:16-12-8-3:relu", inputShape: data.sampleShape, classes: 3, seed: 2)
        let rule = LLS()
        rule.prepare(model)
        let tap = model.blocks[0].forward(data.images, mode: .evaluation)
        let expected = rule.heads[0].lossAndGradient(tap, labels: data.labels)
        model.unitMonitor = UnitMonitor()
        _ = rule.step(model: model, batch: Batch(images: data.images, labels: data.labels), optimizer: SGD(learningRate: 0.1))
        let figures = model.unitMonitor!.figures(model)
        #expect(figures.map(\.name) == ["fc1", "fc2"] && figures.allSatisfy { $0.samples == 48 })
        #expect(abs(figures[0].loss - Double(expected.loss)) < 1e-6, "\(figures[0].loss) vs \(expected.loss)")
        #expect(figures[0].accuracy == Double(expected.correct!) / 48)
        model.unitMonitor!.reset()
        #expect(model.unitMonitor!.figures(model).isEmpty)
    }

    @Test func crossEntropyCountsTheRowsItGetsRight() {
        let logits = Tensor(shape: [3, 2], scalars: [2, 1, 0, 3, 1, 1])
        #expect(SoftmaxCrossEntropy()(logits, labels: [0, 0, 0]).correct == 2, "row 3 ties: the first maximum wins")
    }
}
