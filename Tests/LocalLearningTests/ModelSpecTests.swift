import Testing
@testable import LocalLearning
@testable import LocalLearningTools

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

    /// LeNet-5 as BioTorch builds it, and the kernel/stride/padding grammar it is written in.
    @Test func lenetAndConvolutionGeometryInSpecs() throws {
        let mnist = try ModelSpec.build("lenet", inputShape: [1, 28, 28], classes: 10)
        // conv 6·25+6, conv 16·150+16, fc 256·120+120, fc 120·84+84, out 84·10+10
        #expect(mnist.parameterCount == 156 + 2_416 + 30_840 + 10_164 + 850)
        let convs = mnist.layers.compactMap { $0 as? Conv2D }
        #expect(convs.map(\.kernelSize) == [5, 5] && convs.map(\.padding) == [0, 0] && convs.map(\.stride) == [1, 1])
        #expect(!mnist.layers.contains { $0 is BatchNorm } && mnist.layers.contains { ($0 as? Activation)?.function == .relu })
        #expect((mnist.layers.compactMap { $0 as? Linear }.first)?.inputSize == 256)
        let cifar = try ModelSpec.build("lenet", inputShape: [3, 32, 32], classes: 10)
        #expect((cifar.layers.compactMap { $0 as? Linear }.first)?.inputSize == 400, "16·5·5, LeNet-5 on 32×32")
        for (spec, model) in [("lenet", mnist), ("smallconv", try ModelSpec.build("smallconv", inputShape: [1, 28, 28], classes: 10))] {
            #expect(try ModelSpec.footprint(spec, inputShape: [1, 28, 28], classes: 10).parameters == model.parameterCount, "\(spec)")
        }
        let strided = try ModelSpec.build("cnn:8k3s2,16k1p0:nobn", inputShape: [1, 28, 28], classes: 10)
        #expect(strided.blockOutputShapes[0] == [8, 14, 14] && strided.blockOutputShapes[1] == [16, 14, 14])
        #expect(try ModelSpec.build("cnn:32,M,64", inputShape: [1, 28, 28], classes: 10).parameterCount
                == ModelSpec.build("cnn:32k3p1,M,64k3s1", inputShape: [1, 28, 28], classes: 10).parameterCount)
    }

    @Test(arguments: [
        ("mlp:784-abc-10", "'abc' is not a layer size"),
        ("mlp:100-10", "input size 100 does not match the data's 784"),
        ("mlp:784-10-5", "output size 5 does not match"),
        ("mlp:784-10:swish", "unknown option 'swish'"),
        ("resnet7", "expected one of"),
        ("cnn:32,Q", "'Q' is not a convolution"),
        ("cnn:6k5x", "'6k5x' is not a convolution"),
        ("cnn:6k5k3", "'6k5k3' is not a convolution"),
        ("cnn:6k0", "kernel (≤ 64)"),
        ("cnn:6k29p0", "Conv2D"),
        ("cnn:4,8k5:pconv", "pconv replaces 3×3 same-size convolutions"),
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
