import Testing
@testable import LocalLearning

@Suite("Model specs")
struct ModelSpecTests {
    @Test func mlpSpecBuildsBlocks() throws {
        let model = try ModelSpec.build("mlp:784-256x5-10:tanh", inputShape: [1, 28, 28], classes: 10)
        #expect(model.blocks.count == 6)
        #expect(model.blocks[0].layers.map(\.summary) == ["Flatten", "Linear(784→256)", "Tanh"])
        #expect(model.blocks[5].layers.map(\.summary) == ["Linear(256→10)"])
        #expect(model.parameterCount == 784 * 256 + 256 + 4 * (256 * 256 + 256) + 2570)
        let withOptions = try ModelSpec.build("mlp:784-800x2-10:relu:dropout0.2:bn", inputShape: [1, 28, 28], classes: 10)
        #expect(withOptions.blocks[1].layers.map(\.summary) == ["Linear(800→800)", "BatchNorm(800)", "ReLU", "Dropout(0.2)"])
    }

    @Test func smallconvMatchesThePyTorchReference() throws {
        let model = try ModelSpec.build("smallconv", inputShape: [1, 28, 28], classes: 10)
        // conv 320 + BN 64 + conv 18,496 + BN 128 + conv 73,856 + BN 256 + fc 262,656 + BN 1,024 + fc 5,130
        #expect(model.parameterCount == 361_930)
        #expect(model.blocks.map(\.name) == ["conv1", "conv2", "conv3", "fc1", "classifier"])
        #expect(model.forward(Tensor(shape: [2, 1, 28, 28]), mode: .evaluation).shape == [2, 10])
        let cifar = try ModelSpec.build("vgg8", inputShape: [3, 32, 32], classes: 100)
        #expect(cifar.blocks.count == 8)
    }

    @Test(arguments: [
        ("mlp:784-abc-10", "'abc' is not a layer size"),
        ("mlp:100-10", "input size 100 does not match the data's 784"),
        ("mlp:784-10-5", "output size 5 does not match"),
        ("mlp:784-10:swish", "unknown option 'swish'"),
        ("resnet7", "expected one of"),
        ("cnn:32,Q", "'Q' is not a conv width"),
        ("cnn:M,32", "'M' must follow a convolution"),
        ("cnn:8,M,8,M,8,M,8,M,8,M", "MaxPool2D"),
    ])
    func malformedSpecsSayWhatIsWrong(spec: String, message: String) {
        do {
            _ = try ModelSpec.build(spec, inputShape: [1, 28, 28], classes: 10)
            Issue.record("\(spec) should not build")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }
}
