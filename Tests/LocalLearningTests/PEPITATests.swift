import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("PEPITA: two forward passes, no backward pass")
struct PEPITATests {
    static let data = TrainingTests.blobs(count: 48, seed: 7)
    static let batch = Batch(images: data.images, labels: data.labels)
    static let spec = "mlp:16-12-3:relu"

    func model() throws -> Model { try ModelSpec.build(Self.spec, inputShape: [1, 4, 4], classes: 3, seed: 4) }

    /// Σ_n a_n ⊗ b_n / N for rows a [N, p] and b [N, q]: a [p, q] update.
    static func outer(_ a: Tensor, _ b: Tensor) -> Tensor {
        BLAS.matmul(a, b, transposeA: true).mapped { $0 / Float(a.shape[0]) }
    }

    @Test func oneStepIsAlgorithmOne() throws {
        let trained = try model(), reference = try model()
        let rule = PEPITA(seed: 9)
        let before = reference.parameters.map(\.value)
        _ = rule.step(model: trained, batch: Self.batch, optimizer: SGD(learningRate: 1, momentum: 0))
        // The algorithm written out: h = relu(W1 x + b1), e = softmax(W2 h + b2) − onehot, x′ = x + F e.
        let n = Self.batch.count
        let x = Self.batch.images.reshaped([n, 16])
        let (first, classifier) = (reference.blocks[0], reference.blocks[1])
        let h = first.forward(x, mode: .evaluation)
        let e = SoftmaxCrossEntropy()(classifier.forward(h, mode: .evaluation), labels: Self.batch.labels).gradient.mapped { $0 * Float(n) }
        let xm = Tensor.zip(x, BLAS.matmul(e, rule.feedback!), +)
        let hm = first.forward(xm, mode: .evaluation)
        let em = SoftmaxCrossEntropy()(classifier.forward(hm, mode: .evaluation), labels: Self.batch.labels).gradient.mapped { $0 * Float(n) }
        let expectedW1 = Tensor.zip(before[0], Self.outer(Tensor.zip(h, hm, -), xm), -)
        let expectedW2 = Tensor.zip(before[2], Self.outer(em, hm), -)
        func close(_ a: Tensor, _ b: Tensor) -> Bool { zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) } }
        #expect(close(trained.parameters[0].value, expectedW1))
        #expect(close(trained.parameters[2].value, expectedW2))
        #expect(trained.parameters[0].value != before[0], "the hidden layer learned nothing")
    }

    @Test func withAVanishingFeedbackOnlyTheClassifierLearnsAndAsBackpropDoes() throws {
        let pepita = try model(), bp = try model()
        let before = pepita.parameters.map(\.value)
        _ = PEPITA(.init(feedbackScale: 1e-30)).step(model: pepita, batch: Self.batch, optimizer: SGD(learningRate: 0.5, momentum: 0))
        _ = Backprop().step(model: bp, batch: Self.batch, optimizer: SGD(learningRate: 0.5, momentum: 0))
        // x′ = x: the two passes agree, h − h′ = 0, and the classifier's e′·h′ᵀ is backprop's gradient.
        #expect(pepita.parameters[0].value == before[0] && pepita.parameters[1].value == before[1])
        #expect(pepita.parameters[2].value == bp.parameters[2].value && pepita.parameters[3].value == bp.parameters[3].value)
    }

    @Test func feedbackFollowsTheReferenceScale() throws {
        let m = try ModelSpec.build("mlp:784-32-10:relu", inputShape: [1, 28, 28], classes: 10, seed: 1)
        let rule = PEPITA(seed: 2)
        rule.prepare(m)
        let f = rule.feedback!
        #expect(f.shape == [10, 784])
        let bound = (6 / Float(784)).squareRoot() * 0.05
        #expect(f.scalars.allSatisfy { abs($0) <= bound } && f.scalars.map(abs).max()! > 0.9 * bound)
    }

    @Test(arguments: ["cnn:4:fc8", "mlp:16-12-3:relu:bn", "mlp:16-12-3:relu:dropout0.1"])
    func refusesWhatItCannotRunTwice(spec: String) throws {
        let m = try ModelSpec.build(spec, inputShape: [1, 4, 4], classes: 3, seed: 1)
        #expect(PEPITA().refusal(for: m)?.contains("fully connected") == true)
    }
}
