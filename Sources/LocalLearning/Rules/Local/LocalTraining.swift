/// Where a local rule reads a block's learning signal: the output of the block's last layer that is
/// not a trailing pooling layer — after the activation, before the max/average pool that follows it.
public enum SignalTap {
    static func isPooling(_ layer: Layer) -> Bool {
        layer is MaxPool2D || layer is AvgPool2D || layer is AdaptiveAvgPool2D
    }

    /// Index of the tapped layer in `block.layers`.
    public static func index(in block: Block) -> Int {
        var index = block.layers.count - 1
        while index > 0 && isPooling(block.layers[index]) { index -= 1 }
        return index
    }

    /// Per-sample shape of the tapped activation for a per-sample block input shape.
    public static func shape(in block: Block, inputShape: [Int]) throws -> [Int] {
        try block.layers[...index(in: block)].reduce(inputShape) { try $1.outputShape(for: $0) }
    }

    /// Per-sample tapped shape of every hidden block of `model` (all but the classifier).
    public static func hiddenShapes(of model: Model) -> [[Int]] {
        var input = model.inputShape
        var shapes: [[Int]] = []
        for (index, block) in model.blocks.dropLast().enumerated() {
            // The model validated every shape when it was built.
            shapes.append(try! shape(in: block, inputShape: input))
            input = model.blockOutputShapes[index]
        }
        return shapes
    }
}

/// The step every greedy local rule shares: each hidden block trains on its own loss, computed
/// from its tapped activation, on a detached input (no signal crosses blocks); blocks update one
/// after another during the forward pass, and the output passed on was computed before the block's
/// update. The classifier block trains with ordinary cross-entropy on its detached input.
///
/// With `releaseActivations`, every layer of a block frees what it held for backward as soon as the
/// block's update is done, so at most one block's activations are alive at a time.
public enum LocalTraining {
    /// One step. `localLoss(blockIndex, activation)` returns the block's loss with ∂loss/∂activation
    /// and the extra parameters its loss trained (heads, modulations), updated with the block's.
    public static func step(model: Model, batch: Batch, optimizer: Optimizer, releaseActivations: Bool,
                            localLoss: (Int, Tensor) -> (LossResult, [Parameter])) -> StepStatistics {
        // Buffers left by an evaluation pass are not part of this step.
        if releaseActivations { model.layers.forEach { $0.releaseHeld() } }
        var input = batch.images
        let last = model.blocks.count - 1
        for (index, block) in model.blocks.enumerated() where index < last {
            let tap = SignalTap.index(in: block)
            var activation = input
            for layer in block.layers[...tap] { activation = layer.forward(activation, mode: .training) }
            let (local, extra) = localLoss(index, activation)
            train(block, through: tap, gradient: local.gradient, inFlight: [input, activation], model: model)
            optimizer.update(block.parameters + extra)
            if releaseActivations { block.layers.forEach { $0.releaseHeld() } }
            // The layers after the tap are pooling only: they behave the same in both modes.
            for layer in block.layers[(tap + 1)...] { activation = layer.forward(activation, mode: .evaluation) }
            input = activation
        }
        let classifier = model.blocks[last]
        let logits = classifier.forward(input, mode: .training)
        let loss = SoftmaxCrossEntropy()(logits, labels: batch.labels)
        train(classifier, through: classifier.layers.count - 1, gradient: loss.gradient, inFlight: [input, logits], model: model)
        optimizer.update(classifier.parameters)
        if releaseActivations { classifier.layers.forEach { $0.releaseHeld() } }
        return StepStatistics(loss: loss.loss, correct: SoftmaxCrossEntropy.correctCount(logits, labels: batch.labels),
                              count: batch.count)
    }

    /// Backward from layer `tap` down to the block's first layer with parameters, writing their
    /// gradients; no gradient is computed for the block's input.
    static func train(_ block: Block, through tap: Int, gradient: Tensor, inFlight: [Tensor], model: Model) {
        guard let first = block.layers.firstIndex(where: { !$0.parameters.isEmpty }), first <= tap else { return }
        var g = gradient
        for j in stride(from: tap, through: first, by: -1) {
            guard let next = block.layers[j].backward(g, propagate: j > first) else { break }
            g = next
        }
        model.memoryMeter?.sample(model, inFlight: inFlight + [gradient, g])
    }
}
