/// Loss and accuracy of a model on a dataset, in evaluation mode.
public enum Evaluation {
    public struct Result: Sendable, Codable {
        public var loss: Float
        public var accuracy: Double
    }

    /// `batchSize` bounds the size of the activations (keep it near the training batch size).
    public static func evaluate(_ model: Model, on dataset: Dataset, batchSize: Int = 128) -> Result {
        let loader = DataLoader(dataset: dataset, batchSize: batchSize, shuffle: false)
        let loss = SoftmaxCrossEntropy()
        var totalLoss = 0.0, correct = 0
        loader.forEachBatch(epoch: 0) { _, batch in
            let logits = model.forward(batch.images, mode: .evaluation)
            totalLoss += Double(loss(logits, labels: batch.labels).loss) * Double(batch.count)
            correct += SoftmaxCrossEntropy.correctCount(logits, labels: batch.labels)
        }
        return Result(loss: Float(totalLoss / Double(max(dataset.count, 1))),
                      accuracy: Double(correct) / Double(max(dataset.count, 1)))
    }
}
