/// Loss and accuracy of a model on a dataset, in evaluation mode.
public enum Evaluation {
    public struct Result: Sendable, Codable {
        public var loss: Float
        public var accuracy: Double
        /// Whether the label is among the 5 largest logits; measured when there are more than 10 classes.
        public var top5Accuracy: Double? = nil
    }

    /// `batchSize` bounds the size of the activations (keep it near the training batch size);
    /// `rule` supplies the class scores when it predicts its own way (default: the forward pass);
    /// `input` turns each batch into what the network sees (default: its images as they are).
    public static func evaluate(_ model: Model, on dataset: Dataset, batchSize: Int = 128, rule: LearningRule? = nil,
                                input: (Batch) -> Tensor = { $0.images }) -> Result {
        let loader = DataLoader(dataset: dataset, batchSize: batchSize, shuffle: false)
        let loss = SoftmaxCrossEntropy()
        var totalLoss = 0.0, correct = 0, top5 = 0
        loader.forEachBatch(epoch: 0) { _, batch in
            let logits = scores(model, input(batch), rule: rule)
            let result = loss(logits, labels: batch.labels)
            totalLoss += Double(result.loss) * Double(batch.count)
            correct += result.correct!
            if dataset.classes > 10 { top5 += topKCount(logits, labels: batch.labels, k: 5) }
        }
        let n = Double(max(dataset.count, 1))
        return Result(loss: Float(totalLoss / n), accuracy: Double(correct) / n, top5Accuracy: dataset.classes > 10 ? Double(top5) / n : nil)
    }

    /// The rule's class scores for `images`, or the model's logits.
    static func scores(_ model: Model, _ images: Tensor, rule: LearningRule?) -> Tensor {
        rule?.scores(model: model, images: images) ?? model.forward(images, mode: .evaluation)
    }

    /// Rows whose label's logit is among the `k` largest (ties counted in the label's favour).
    public static func topKCount(_ logits: Tensor, labels: [Int32], k: Int) -> Int {
        let classes = logits.shape[1]
        return logits.withUnsafeBufferPointer { z in
            labels.indices.reduce(0) { count, row in
                let values = z.baseAddress! + row * classes, target = values[Int(labels[row])]
                var above = 0
                for c in 0..<classes where values[c] > target { above += 1 }
                return count + (above < k ? 1 : 0)
            }
        }
    }

    /// Counts[true class][predicted class] on `dataset`.
    public static func confusionMatrix(_ model: Model, on dataset: Dataset, batchSize: Int = 128, rule: LearningRule? = nil) -> [[Int]] {
        var counts = [[Int]](repeating: [Int](repeating: 0, count: dataset.classes), count: dataset.classes)
        DataLoader(dataset: dataset, batchSize: batchSize, shuffle: false).forEachBatch(epoch: 0) { _, batch in
            let predicted = SoftmaxCrossEntropy.predictions(scores(model, batch.images, rule: rule))
            for (label, guess) in zip(batch.labels, predicted) { counts[Int(label)][guess] += 1 }
        }
        return counts
    }
}
