/// Random augmentation applied per training sample.
public struct Augmentation: Sendable, Equatable, Codable {
    /// Pad by this many zero pixels on every side, then crop a random window of the original size.
    public var cropPadding: Int
    /// Mirror left–right with probability ½.
    public var horizontalFlip: Bool

    public init(cropPadding: Int = 0, horizontalFlip: Bool = false) {
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
    }

    public var isIdentity: Bool { cropPadding == 0 && !horizontalFlip }
}

/// Batches a dataset in a seeded order: epoch e's order and augmentation depend only on (seed, e),
/// so any epoch can be replayed exactly.
public struct DataLoader: Sendable {
    public let dataset: Dataset
    public let batchSize: Int
    public let shuffle: Bool
    public let augmentation: Augmentation
    public let seed: UInt64

    public init(dataset: Dataset, batchSize: Int, shuffle: Bool = true, augmentation: Augmentation = .init(), seed: UInt64 = 1) {
        precondition(batchSize > 0, "batch size must be positive")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.augmentation = augmentation
        self.seed = seed
    }

    /// Batches per epoch; the last one may be smaller.
    public var batchCount: Int { (dataset.count + batchSize - 1) / batchSize }

    private func generator(epoch: Int) -> SeededGenerator {
        SeededGenerator(seed: seed ^ (UInt64(epoch + 1) &* 0x9E37_79B9_7F4A_7C15))
    }

    /// Calls `body` with each batch of `epoch` (0-based) in order, from batch `start` on (the batches
    /// before it are the same as in a full pass: their augmentation draws are replayed, not skipped).
    public func forEachBatch(epoch: Int, from start: Int = 0, _ body: (_ index: Int, _ batch: Batch) throws -> Void) rethrows {
        var rng = generator(epoch: epoch)
        let order = shuffle ? rng.permutation(dataset.count) : (0..<dataset.count).map { Int32($0) }
        var augmentRNG = rng.fork()
        for b in 0..<batchCount {
            let indices = order[(b * batchSize)..<min((b + 1) * batchSize, dataset.count)]
            if b < start {
                if !augmentation.isIdentity { _ = gather(indices, rng: &augmentRNG) }
                continue
            }
            try body(b, gather(indices, rng: &augmentRNG))
        }
    }

    func gather(_ indices: ArraySlice<Int32>, rng: inout SeededGenerator) -> Batch {
        let shape = dataset.sampleShape
        let (channels, height, width) = (shape[0], shape[1], shape[2])
        let per = channels * height * width
        let labels = indices.map { dataset.labels[Int($0)] }
        let images = Tensor(uninitializedShape: [indices.count] + shape) { out in
            dataset.images.withUnsafeBufferPointer { src in
                for (slot, index) in indices.enumerated() {
                    let from = src.baseAddress! + Int(index) * per
                    let to = out.baseAddress! + slot * per
                    if augmentation.isIdentity {
                        to.update(from: from, count: per)
                        continue
                    }
                    let pad = augmentation.cropPadding
                    let dy = pad > 0 ? rng.nextInt(below: 2 * pad + 1) - pad : 0
                    let dx = pad > 0 ? rng.nextInt(below: 2 * pad + 1) - pad : 0
                    let flip = augmentation.horizontalFlip && rng.next() & 1 == 1
                    for c in 0..<channels {
                        for y in 0..<height {
                            let sy = y + dy
                            for x in 0..<width {
                                let sx = (flip ? width - 1 - x : x) + dx
                                let inside = sy >= 0 && sy < height && sx >= 0 && sx < width
                                to[(c * height + y) * width + x] = inside ? from[(c * height + sy) * width + sx] : 0
                            }
                        }
                    }
                }
            }
        }
        return Batch(images: images, labels: labels)
    }
}
