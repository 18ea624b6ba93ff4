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

    /// How the classifier of a token model (a ViT) reads its token sequence; unit-local losses read
    /// hidden token sequences [T, D] the same way, as the SLL paper's ViT units do. nil for other models.
    public static func tokenReading(of model: Model) -> TokenPool.Reading? {
        (model.blocks.last?.layers.first as? TokenPool)?.reading
    }

    /// The per-sample shape a unit-local loss reads from a tapped shape: a token sequence [T, D] of a
    /// token model is read as one token [D]; any other shape as it is.
    public static func lossShape(_ shape: [Int], of model: Model) -> [Int] {
        tokenReading(of: model) != nil && shape.count == 2 ? [shape[1]] : shape
    }

    /// `lossShape` of every hidden block's tapped shape: what unit-local rules size their heads for.
    public static func lossShapes(of model: Model) -> [[Int]] { hiddenShapes(of: model).map { lossShape($0, of: model) } }

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

/// The step every greedy local rule shares: the hidden blocks are grouped into units of
/// `unitSize` consecutive blocks (1: every block is its own unit); each unit trains on its own loss,
/// computed from the tapped activation of its last block, on a detached input — backprop runs inside
/// a unit, no signal crosses units. Units update one after another during the forward pass, and the
/// output passed on was computed before the unit's update. The classifier block trains with ordinary
/// cross-entropy on its detached input.
///
/// With `releaseActivations`, every layer of a unit frees what it held for backward as soon as the
/// unit's update is done, so at most one unit's activations are alive at a time.
public enum LocalTraining {
    /// The hidden blocks of `model` in units of `unitSize`: index ranges into `model.blocks`. The last
    /// `globalTail` hidden blocks belong to no unit: they train with the classifier.
    public static func units(of model: Model, size unitSize: Int, globalTail: Int = 0) -> [ClosedRange<Int>] {
        let hidden = model.blocks.count - 1 - globalTail, size = max(1, unitSize)
        return stride(from: 0, to: hidden, by: size).map { $0...min($0 + size, hidden) - 1 }
    }

    /// MACs of backpropagating inside units: the error sent through every weighted layer of a unit
    /// but its first (0 when every unit is one Linear/conv block), and through every attention layer
    /// after that first one (twice its forward MACs, as in `Model.errorPropagationMACs`).
    public static func withinUnitPropagationMACs(_ model: Model, unitSize: Int) -> Int {
        let layers = model.layerMACs
        return units(of: model, size: unitSize).reduce(0) { total, unit in
            total + Model.propagationMACs(layers.filter { unit.contains($0.block) })
        }
    }

    /// One step of `rule`: every unit in turn, then the classifier.
    public static func step(rule: some UnitLocalRule, model: Model, batch: Batch, optimizer: Optimizer) -> StepStatistics {
        // Buffers left by an evaluation pass are not part of this step.
        if rule.releasesActivations { model.layers.forEach { $0.releaseHeld() } }
        var state = rule.beginStep(batch, model: model)
        var input = batch.images
        for unit in rule.units(of: model) {
            input = trainUnit(unit, rule: rule, model: model, input: input, labels: batch.labels, state: &state,
                              optimizer: optimizer, learningRate: optimizer.learningRate)
        }
        return trainTop(rule: rule, model: model, input: input, labels: batch.labels, optimizer: optimizer,
                        learningRate: optimizer.learningRate)
    }

    /// Trains `unit` on its loss from the detached `input` and returns the unit's output, computed
    /// before its update.
    public static func trainUnit(_ unit: ClosedRange<Int>, rule: some UnitLocalRule, model: Model, input: Tensor, labels: [Int32],
                                 state: inout LocalStepState, optimizer: Optimizer, learningRate: Float) -> Tensor {
        let last = model.blocks[unit.upperBound]
        let tap = rule.tapsBlockOutput ? last.layers.count - 1 : SignalTap.index(in: last)
        let layers: [Layer] = model.blocks[unit.lowerBound..<unit.upperBound].flatMap(\.layers) + Array(last.layers[...tap])
        var activation = input
        for layer in layers { activation = layer.forward(activation, mode: .training) }
        // A token sequence is read as the classifier reads it; the loss gradient goes back to the tokens read.
        let reading = activation.rank == 3 ? SignalTap.tokenReading(of: model) : nil
        let read = reading.map { TokenPool.pool(activation, $0) } ?? activation
        var (local, extra) = rule.unitLoss(block: unit.upperBound, activation: read, labels: labels, state: &state, model: model)
        if let reading { local.gradient = TokenPool.spread(local.gradient.reshaped(read.shape), tokens: activation.shape[1], reading) }
        model.unitMonitor?.record(block: unit.upperBound, loss: local.loss, correct: local.correct, count: labels.count)
        let parameters = model.blocks[unit].flatMap(\.parameters)
        withGradients(of: parameters, in: model) {
            train(layers, gradient: local.gradient, inFlight: [input, activation], model: model)
            optimizer.update(parameters + extra, learningRate: learningRate)
        }
        if rule.releasesActivations { layers.forEach { $0.releaseHeld() } }
        // The layers after the tap are pooling only: they behave the same in both modes.
        for layer in last.layers[(tap + 1)...] { activation = layer.forward(activation, mode: .evaluation) }
        return activation
    }

    /// Trains the global tail and the classifier with cross-entropy on their detached `input`.
    public static func trainTop(rule: some UnitLocalRule, model: Model, input: Tensor, labels: [Int32], optimizer: Optimizer,
                                learningRate: Float) -> StepStatistics {
        let top = model.blocks[(model.blocks.count - 1 - rule.globalTail)...]
        let layers = top.flatMap(\.layers)
        let logits = layers.reduce(input) { $1.forward($0, mode: .training) }
        let loss = SoftmaxCrossEntropy()(logits, labels: labels)
        let parameters = top.flatMap(\.parameters)
        withGradients(of: parameters, in: model) {
            train(layers, gradient: loss.gradient, inFlight: [input, logits], model: model)
            optimizer.update(parameters, learningRate: learningRate)
        }
        if rule.releasesActivations { layers.forEach { $0.releaseHeld() } }
        return StepStatistics(loss: loss.loss, correct: loss.correct!, count: labels.count)
    }

    /// Runs `body` (a backward and its update) with `parameters`' gradients allocated; with
    /// `model.transientGradients` they are allocated here and freed afterwards.
    static func withGradients(of parameters: [Parameter], in model: Model, _ body: () -> Void) {
        guard model.transientGradients else { return body() }
        parameters.forEach { $0.prepareGradient() }
        body()
        parameters.forEach { $0.releaseGradient() }
    }

    /// Backward from the last of `layers` down to the first with parameters, writing their gradients;
    /// no gradient is computed for the input of the first layer.
    static func train(_ layers: [Layer], gradient: Tensor, inFlight: [Tensor], model: Model) {
        guard let first = layers.firstIndex(where: { !$0.parameters.isEmpty }) else { return }
        let g = LayerChain.backward(layers[(first + 1)...], gradient, propagate: true)!
        _ = layers[first].backward(g, propagate: false)
        model.memoryMeter?.sample(model, inFlight: inFlight + [gradient, g])
    }
}
