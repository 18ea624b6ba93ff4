import Foundation

/// Images as floats in [0, 1] (pixel/255), shape [N, C, H, W], with integer labels.
public struct Dataset: Sendable {
    public var name: String
    public var images: Tensor
    public var labels: [Int32]
    public var classes: Int

    public init(name: String, images: Tensor, labels: [Int32], classes: Int) {
        precondition(images.rank == 4 && images.shape[0] == labels.count,
                     "dataset needs images [N, C, H, W] and N labels, got \(images.shape) and \(labels.count)")
        self.name = name
        self.images = images
        self.labels = labels
        self.classes = classes
    }

    public var count: Int { labels.count }
    /// Per-sample shape [C, H, W].
    public var sampleShape: [Int] { Array(images.shape.dropFirst()) }

    /// The first `limit` samples (all when `limit` is nil or larger than the set; none when it is ≤ 0).
    public func prefix(_ limit: Int?) -> Dataset {
        guard let limit, limit < count else { return self }
        return subset(Array(0..<Swift.max(limit, 0)))
    }

    /// A fixed, seeded hold-out: `count` samples drawn without replacement become the validation set
    /// (in their original order), the rest the training set (in theirs). The same seed and sizes
    /// always hold out the same samples.
    public func holdingOut(_ count: Int, seed: UInt64) -> (train: Dataset, validation: Dataset) {
        precondition(count >= 0 && count <= self.count, "cannot hold out \(count) of \(self.count) samples")
        var rng = SeededGenerator(seed: seed ^ 0x7A11_D0)
        var order = Array(0..<self.count)
        for i in 0..<count { order.swapAt(i, Int.random(in: i..<self.count, using: &rng)) }
        let held = Set(order.prefix(count))
        return (subset((0..<self.count).filter { !held.contains($0) }), subset(held.sorted()))
    }

    /// The samples at `indices`, in that order.
    func subset(_ indices: [Int]) -> Dataset {
        let per = sampleShape.reduce(1, *)
        var scalars = [Float]()
        scalars.reserveCapacity(indices.count * per)
        images.withUnsafeBufferPointer { all in
            for index in indices { scalars.append(contentsOf: all[(index * per)..<((index + 1) * per)]) }
        }
        return Dataset(name: name, images: Tensor(shape: [indices.count] + sampleShape, scalars: scalars),
                       labels: indices.map { labels[$0] }, classes: classes)
    }

    /// Builds float images from bytes (pixel/255).
    static func images(fromBytes bytes: [UInt8], shape: [Int]) -> Tensor {
        Tensor(uninitializedShape: shape) { out in
            bytes.withUnsafeBufferPointer { b in
                for i in 0..<out.count { out[i] = Float(b[i]) * (1 / 255) }
            }
        }
    }
}

/// A training and a test split.
public struct DatasetSplits: Sendable {
    public var train: Dataset
    public var test: Dataset
}

/// The datasets the library reads, from their standard raw files.
public enum DatasetName: String, CaseIterable, Sendable, Codable {
    /// A 6,000/1,000 subset of Fashion-MNIST shipped inside the package (MIT licence, Zalando SE).
    case embedded = "fashion-mnist-subset"
    case mnist
    case fashionMNIST = "fashion-mnist"
    case cifar10
    case cifar100

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Per-sample image shape [C, H, W], known without reading the files.
    public var sampleShape: [Int] {
        switch self {
        case .embedded, .mnist, .fashionMNIST: [1, 28, 28]
        case .cifar10, .cifar100: [3, 32, 32]
        }
    }

    public var classes: Int { self == .cifar100 ? 100 : 10 }

    /// Loads both splits. `directory` is the folder holding the files (or its parent); ignored for `embedded`.
    public func load(directory: String?) throws -> DatasetSplits {
        switch self {
        case .embedded:
            guard let url = Bundle.module.url(forResource: "fashion-mnist-subset", withExtension: nil) else {
                throw DataError.missing(path: "LocalLearning_LocalLearning.resources/fashion-mnist-subset")
            }
            return try Self.loadIDX(name: rawValue, directory: url.path)
        case .mnist, .fashionMNIST:
            return try Self.loadIDX(name: rawValue, directory: resolve(directory, marker: "train-images-idx3-ubyte"))
        case .cifar10:
            let dir = try resolve(directory, marker: "data_batch_1.bin", subfolders: ["cifar-10-batches-bin", "cifar10-jpeg"])
            let train = try (1...5).map { try CIFAR.read("\(dir)/data_batch_\($0).bin", labelBytes: 1, classes: 10) }
            let test = try CIFAR.read("\(dir)/test_batch.bin", labelBytes: 1, classes: 10)
            try Self.refuseEmpty(train, path: "\(dir)/data_batch_*.bin", split: "training")
            try Self.refuseEmpty([test], path: "\(dir)/test_batch.bin", split: "test")
            return DatasetSplits(train: Self.cifarDataset(rawValue, train, classes: 10),
                                 test: Self.cifarDataset(rawValue, [test], classes: 10))
        case .cifar100:
            let dir = try resolve(directory, marker: "train.bin", subfolders: ["cifar-100-binary", "cifar100"])
            let train = try CIFAR.read("\(dir)/train.bin", labelBytes: 2, classes: 100)
            let test = try CIFAR.read("\(dir)/test.bin", labelBytes: 2, classes: 100)
            try Self.refuseEmpty([train], path: "\(dir)/train.bin", split: "training")
            try Self.refuseEmpty([test], path: "\(dir)/test.bin", split: "test")
            return DatasetSplits(train: Self.cifarDataset(rawValue, [train], classes: 100),
                                 test: Self.cifarDataset(rawValue, [test], classes: 100))
        }
    }

    /// Finds the folder holding `marker` (plain or .gz): `directory` itself or one of its known subfolders.
    private func resolve(_ directory: String?, marker: String, subfolders: [String] = []) throws -> String {
        guard let directory else {
            throw DataError.missingDirectory(path: "(none given)", expected: "--data-dir pointing at the \(rawValue) files")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError.missingDirectory(path: directory, expected: "a folder holding the \(rawValue) files")
        }
        guard access(directory, R_OK | X_OK) == 0 else { throw DataError.unreadable(path: directory, reason: DataError.reason(errno: errno)) }
        for candidate in [directory] + ([rawValue] + subfolders).map({ "\(directory)/\($0)" }) {
            for suffix in ["", ".gz"] where FileManager.default.fileExists(atPath: "\(candidate)/\(marker)\(suffix)") {
                return candidate
            }
        }
        return directory   // the reader then names the missing file
    }

    private static func file(_ directory: String, _ stem: String) -> String {
        let plain = "\(directory)/\(stem)"
        return FileManager.default.fileExists(atPath: plain) ? plain : plain + ".gz"
    }

    static func loadIDX(name: String, directory: String) throws -> DatasetSplits {
        func split(_ prefix: String) throws -> Dataset {
            let imagePath = file(directory, "\(prefix)-images-idx3-ubyte")
            let labelPath = file(directory, "\(prefix)-labels-idx1-ubyte")
            let images = try IDX.read(imagePath, expectedRank: 3)
            let labels = try IDX.read(labelPath, expectedRank: 1)
            guard images.dimensions[0] == labels.dimensions[0] else {
                throw DataError.countMismatch(images: imagePath, imageCount: images.dimensions[0],
                                              labels: labelPath, labelCount: labels.dimensions[0])
            }
            guard images.dimensions[0] > 0 else { throw DataError.empty(path: imagePath, split: prefix == "train" ? "training" : "test") }
            guard images.dimensions[1] > 0, images.dimensions[2] > 0 else {
                throw DataError.badDimensions(path: imagePath, reason: "image size \(images.dimensions[1])×\(images.dimensions[2]) is empty")
            }
            if let bad = labels.bytes.firstIndex(where: { $0 >= 10 }) {
                throw DataError.labelOutOfRange(path: labelPath, index: bad, label: Int(labels.bytes[bad]), classes: 10)
            }
            let shape = [images.dimensions[0], 1, images.dimensions[1], images.dimensions[2]]
            return Dataset(name: name, images: Dataset.images(fromBytes: images.bytes, shape: shape),
                           labels: labels.bytes.map { Int32($0) }, classes: 10)
        }
        return DatasetSplits(train: try split("train"), test: try split("t10k"))
    }

    static func refuseEmpty(_ parts: [CIFAR.Records], path: String, split: String) throws {
        if parts.allSatisfy(\.labels.isEmpty) { throw DataError.empty(path: path, split: split) }
    }

    static func cifarDataset(_ name: String, _ parts: [CIFAR.Records], classes: Int) -> Dataset {
        let bytes = parts.flatMap(\.images), labels = parts.flatMap(\.labels)
        return Dataset(name: name, images: Dataset.images(fromBytes: bytes, shape: [labels.count, 3, 32, 32]),
                       labels: labels, classes: classes)
    }
}
