import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

/// Writes small IDX and CIFAR fixtures into a fresh temporary folder.
struct Fixtures {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "locallearn-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/\(name)"))
    }

    /// A valid MNIST-style pair per split: `count` 3×2 images with pixel (n + i), labels n mod 10.
    func writeIDX(count: Int = 5, gzip: Bool, imageCount: Int? = nil, labelOverride: UInt8? = nil) throws {
        for prefix in ["train", "t10k"] {
            let pixels = (0..<(imageCount ?? count) * 6).map { UInt8($0 % 256) }
            let labels = (0..<count).map { labelOverride ?? UInt8($0 % 10) }
            var images = IDX.encode(dimensions: [imageCount ?? count, 3, 2], bytes: pixels)
            var labelFile = IDX.encode(dimensions: [count], bytes: labels)
            if gzip {
                images = try FileBytes.gzip(images)
                labelFile = try FileBytes.gzip(labelFile)
            }
            let suffix = gzip ? ".gz" : ""
            try write("\(prefix)-images-idx3-ubyte\(suffix)", images)
            try write("\(prefix)-labels-idx1-ubyte\(suffix)", labelFile)
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite("Dataset readers")
struct DataTests {
    @Test(arguments: [false, true])
    func idxFixturesParse(gzip: Bool) throws {
        let fixtures = try Fixtures()
        defer { fixtures.remove() }
        try fixtures.writeIDX(gzip: gzip)
        let splits = try DatasetName.mnist.load(directory: fixtures.directory)
        #expect(splits.train.images.shape == [5, 1, 3, 2])
        #expect(splits.train.labels == [0, 1, 2, 3, 4])
        #expect(abs(splits.train.images[7] - Float(7) / 255) < 1e-7)
        #expect(splits.test.count == 5)
    }

    @Test func missingFileIsNamed() throws {
        let fixtures = try Fixtures()
        defer { fixtures.remove() }
        #expect(throws: DataError.missing(path: "\(fixtures.directory)/train-images-idx3-ubyte.gz")) {
            try DatasetName.mnist.load(directory: fixtures.directory)
        }
    }

    @Test func missingDirectory() {
        #expect(throws: DataError.missingDirectory(path: "/nonexistent/mnist", expected: "a folder holding the mnist files")) {
            try DatasetName.mnist.load(directory: "/nonexistent/mnist")
        }
    }

    @Test func badMagic() throws {
        var bytes = IDX.encode(dimensions: [1, 2, 2], bytes: [0, 0, 0, 0])
        bytes[2] = 0x09
        #expect(throws: DataError.badMagic(path: "f", found: 0x0903, expected: "0x803 (IDX unsigned bytes, 3 dimensions)")) {
            try IDX.parse(bytes, path: "f", expectedRank: 3)
        }
        // A label file where an image file is expected is a magic error too.
        #expect(throws: DataError.self) { try IDX.parse(IDX.encode(dimensions: [4], bytes: [1, 2, 3, 4]), path: "f", expectedRank: 3) }
    }

    @Test func truncatedPayloadAndHeader() {
        let full = IDX.encode(dimensions: [2, 2, 2], bytes: Array(repeating: 1, count: 8))
        #expect(throws: DataError.truncated(path: "f", expectedBytes: 24, actualBytes: 21)) {
            try IDX.parse(Array(full.prefix(21)), path: "f", expectedRank: 3)
        }
        #expect(throws: DataError.truncated(path: "f", expectedBytes: 16, actualBytes: 10)) {
            try IDX.parse(Array(full.prefix(10)), path: "f", expectedRank: 3)
        }
    }

    @Test func hugeDeclaredSizeIsRejectedBeforeAllocating() {
        let bytes = IDX.encode(dimensions: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], bytes: [])
        #expect(throws: DataError.self) { try IDX.parse(bytes, path: "f", expectedRank: 3) }
    }

    @Test func imageLabelCountMismatch() throws {
        let fixtures = try Fixtures()
        defer { fixtures.remove() }
        try fixtures.writeIDX(count: 5, gzip: false, imageCount: 4)
        #expect(throws: DataError.countMismatch(images: "\(fixtures.directory)/train-images-idx3-ubyte", imageCount: 4,
                                                labels: "\(fixtures.directory)/train-labels-idx1-ubyte", labelCount: 5)) {
            try DatasetName.mnist.load(directory: fixtures.directory)
        }
    }

    @Test func labelOutOfRange() throws {
        let fixtures = try Fixtures()
        defer { fixtures.remove() }
        try fixtures.writeIDX(gzip: true, labelOverride: 12)
        #expect(throws: DataError.labelOutOfRange(path: "\(fixtures.directory)/train-labels-idx1-ubyte.gz", index: 0, label: 12, classes: 10)) {
            try DatasetName.fashionMNIST.load(directory: fixtures.directory)
        }
    }

    @Test func corruptGzip() throws {
        let fixtures = try Fixtures()
        defer { fixtures.remove() }
        var bytes = try FileBytes.gzip(IDX.encode(dimensions: [4], bytes: [1, 2, 3, 4]))
        bytes = Array(bytes.prefix(bytes.count / 2))
        try fixtures.write("x.gz", bytes)
        #expect(throws: DataError.self) { try IDX.read("\(fixtures.directory)/x.gz", expectedRank: 1) }
        do {
            _ = try IDX.read("\(fixtures.directory)/x.gz", expectedRank: 1)
        } catch let error as DataError {
            guard case .corruptCompression = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.description.contains("x.gz"))
        }
    }

    func cifarRecord(label: [UInt8], fill: UInt8) -> [UInt8] { label + Array(repeating: fill, count: CIFAR.imageBytes) }

    @Test func cifar10FixturesParse() throws {
        let fixtures = try Fixtures()
        defer { fixtures.remove() }
        for i in 1...5 { try fixtures.write("data_batch_\(i).bin", cifarRecord(label: [UInt8(i)], fill: UInt8(i)) + cifarRecord(label: [9], fill: 255)) }
        try fixtures.write("test_batch.bin", cifarRecord(label: [3], fill: 51))
        let splits = try DatasetName.cifar10.load(directory: fixtures.directory)
        #expect(splits.train.images.shape == [10, 3, 32, 32])
        #expect(splits.train.labels == [1, 9, 2, 9, 3, 9, 4, 9, 5, 9])
        #expect(splits.test.labels == [3])
        #expect(abs(splits.test.images[3071] - 0.2) < 1e-6)
    }

    @Test func cifar100UsesTheFineLabel() throws {
        let fixtures = try Fixtures()
        defer { fixtures.remove() }
        try fixtures.write("train.bin", cifarRecord(label: [3, 77], fill: 1) + cifarRecord(label: [0, 99], fill: 2))
        try fixtures.write("test.bin", cifarRecord(label: [1, 5], fill: 3))
        let splits = try DatasetName.cifar100.load(directory: fixtures.directory)
        #expect(splits.train.labels == [77, 99])
        #expect(splits.test.labels == [5])
        #expect(splits.train.classes == 100)
    }

    @Test func cifarCorruption() {
        let record = cifarRecord(label: [1], fill: 0)
        #expect(throws: DataError.truncated(path: "b", expectedBytes: 2 * 3073, actualBytes: 3073 + 100)) {
            try CIFAR.parse(record + Array(repeating: 0, count: 100), path: "b", labelBytes: 1, classes: 10)
        }
        #expect(throws: DataError.labelOutOfRange(path: "b", index: 1, label: 10, classes: 10)) {
            try CIFAR.parse(record + cifarRecord(label: [10], fill: 0), path: "b", labelBytes: 1, classes: 10)
        }
        #expect(throws: DataError.truncated(path: "b", expectedBytes: 3073, actualBytes: 0)) {
            try CIFAR.parse([], path: "b", labelBytes: 1, classes: 10)
        }
    }

    @Test func embeddedSubsetLoads() throws {
        let splits = try DatasetName.embedded.load(directory: nil)
        #expect(splits.train.count == 6000 && splits.test.count == 1000)
        #expect(splits.train.sampleShape == [1, 28, 28])
        for k in 0..<10 { #expect(splits.train.labels.filter { $0 == k }.count == 600) }
    }
}

@Suite("Data loader")
struct DataLoaderTests {
    func dataset(_ n: Int) -> Dataset {
        let images = Tensor(shape: [n, 1, 2, 3], scalars: (0..<(n * 6)).map { Float($0) })
        return Dataset(name: "toy", images: images, labels: (0..<n).map { Int32($0 % 10) }, classes: 10)
    }

    @Test func everySampleOncePerEpochInASeededOrder() {
        let loader = DataLoader(dataset: dataset(10), batchSize: 4, seed: 3)
        var seen: [Int32] = [], sizes: [Int] = []
        loader.forEachBatch(epoch: 0) { _, batch in
            sizes.append(batch.count)
            // Each image's first pixel identifies the sample.
            for i in 0..<batch.count { seen.append(Int32(batch.images[i * 6] / 6)) }
        }
        #expect(sizes == [4, 4, 2])
        #expect(seen.sorted() == Array(0..<10))
        var again: [Int32] = []
        loader.forEachBatch(epoch: 0) { _, batch in for i in 0..<batch.count { again.append(Int32(batch.images[i * 6] / 6)) } }
        #expect(again == seen)
        var next: [Int32] = []
        loader.forEachBatch(epoch: 1) { _, batch in for i in 0..<batch.count { next.append(Int32(batch.images[i * 6] / 6)) } }
        #expect(next != seen)
    }

    @Test func flipMirrorsRows() {
        let loader = DataLoader(dataset: dataset(1), batchSize: 1, shuffle: false,
                                augmentation: Augmentation(horizontalFlip: true), seed: 1)
        var outcomes = Set<[Float]>()
        for epoch in 0..<16 { loader.forEachBatch(epoch: epoch) { _, b in outcomes.insert(b.images.scalars) } }
        #expect(outcomes == [[0, 1, 2, 3, 4, 5], [2, 1, 0, 5, 4, 3]])
    }

    @Test func cropShiftsWithZeroFill() {
        let loader = DataLoader(dataset: dataset(1), batchSize: 1, shuffle: false,
                                augmentation: Augmentation(cropPadding: 1), seed: 1)
        var outcomes = Set<[Float]>()
        for epoch in 0..<64 { loader.forEachBatch(epoch: epoch) { _, b in outcomes.insert(b.images.scalars) } }
        #expect(outcomes.count == 9)   // 3 × 3 offsets
        #expect(outcomes.contains([0, 1, 2, 3, 4, 5]))
        #expect(outcomes.contains([4, 5, 0, 0, 0, 0]))   // shifted up one row and left one column
    }
}

@Suite("Standardisation")
struct StandardizationTests {
    @Test func measuresAndAppliesPerChannel() {
        // Two samples, two channels of 2 pixels: channel 0 holds 1, 3, 1, 3; channel 1 holds 0, 0, 4, 4.
        let images = Tensor(shape: [2, 2, 1, 2], scalars: [1, 3, 0, 0, 1, 3, 4, 4])
        let data = Dataset(name: "t", images: images, labels: [0, 1], classes: 2)
        let s = Standardization(measuring: data)
        #expect(s.mean == [2, 2])
        #expect(s.standardDeviation == [1, 2])
        #expect(s.apply(to: data).images.scalars == [-1, 1, -1, -1, -1, 1, 1, 1])
    }
}

@Suite("Validation split")
struct ValidationSplitTests {
    @Test func aSeededHoldOutIsFixedDisjointAndComplete() {
        let data = TrainingTests.blobs(count: 50, seed: 1)
        let (train, validation) = data.holdingOut(10, seed: 3)
        #expect(train.count == 40 && validation.count == 10)
        let (again, sameValidation) = data.holdingOut(10, seed: 3)
        #expect(validation.images.scalars == sameValidation.images.scalars && train.labels == again.labels)
        #expect(data.holdingOut(10, seed: 4).validation.images.scalars != validation.images.scalars, "another seed, another draw")
        // Every sample lands on exactly one side: the two parts' rows together are the data's rows.
        let per = data.sampleShape.reduce(1, *)
        func rows(_ d: Dataset) -> [[Float]] { (0..<d.count).map { Array(d.images.scalars[($0 * per)..<(($0 + 1) * per)]) } }
        #expect((rows(train) + rows(validation)).map { $0.description }.sorted() == rows(data).map { $0.description }.sorted())
    }

    @Test func theTrainerEvaluatesTheValidationSetEveryEpoch() throws {
        let data = TrainingTests.blobs(count: 96, seed: 1)
        let (train, validation) = data.holdingOut(24, seed: 1)
        let model = try ModelSpec.build("mlp:16-8-3:tanh", inputShape: data.sampleShape, classes: 3, seed: 2)
        let trainer = Trainer(model: model, rule: Backprop(), optimizer: Adam(learningRate: 1e-2), schedule: .constant,
                              trainLoader: DataLoader(dataset: train, batchSize: 16, seed: 1),
                              testSet: TrainingTests.blobs(count: 30, seed: 2), epochs: 3)
        trainer.validationSet = validation
        let reports = try trainer.run()
        #expect(reports.allSatisfy { $0.validationAccuracy != nil && $0.validationLoss != nil })
        let measured = Evaluation.evaluate(model, on: validation, batchSize: 16)
        #expect(reports.last!.validationAccuracy == measured.accuracy && reports.last!.validationLoss == measured.loss)
        #expect(reports.bestValidationEpoch?.validationAccuracy == reports.compactMap(\.validationAccuracy).max())
    }
}

@Suite("Class subsets and the FA k-class experiment")
struct ClassSubsetTests {
    @Test func keepingClassesFiltersAndRelabelsInTheGivenOrder() {
        let data = TrainingTests.blobs(count: 30, seed: 1)   // labels n mod 3
        let subset = data.keepingClasses([2, 0])
        #expect(subset.count == 20 && subset.classes == 2)
        #expect(subset.labels == (0..<30).filter { $0 % 3 != 1 }.map { Int32($0 % 3 == 2 ? 0 : 1) })
        let per = data.sampleShape.reduce(1, *)
        #expect(Array(subset.images.scalars[0..<per]) == Array(data.images.scalars[0..<per]), "sample 0 (label 0) comes first")
        #expect(ClassSelection(parsing: "5") == .first(5) && ClassSelection(parsing: "3,1") == .list([3, 1]))
        for bad in ["1", "0,0", "a", "", "2,-1", "3,"] { #expect(ClassSelection(parsing: bad) == nil, "\(bad)") }
        if case .success = ClassSelection.first(11).labels(outOf: 10) { Issue.record("11 of 10 classes accepted") }
    }

    @Test func theExperimentTrainsEveryCombinationAndTabulatesMeanAndSpread() throws {
        let splits = DatasetSplits(train: TrainingTests.blobs(count: 90, seed: 1), test: TrainingTests.blobs(count: 30, seed: 2))
        var configuration = FAClassesExperiment.Configuration()
        (configuration.classCounts, configuration.rules, configuration.seeds) = ([2, 3], ["bp", "fa"], [1, 2])
        (configuration.epochs, configuration.model, configuration.batchSize) = (2, "cnn:4,A2", 16)
        let runs = try FAClassesExperiment.run(configuration, dataset: "blobs", splits: splits)
        #expect(runs.count == 2 * 2 * 2)
        #expect(runs.filter { $0.rule == "fa" }.allSatisfy { $0.feedbackAngle != nil } && runs.filter { $0.rule == "bp" }.allSatisfy { $0.feedbackAngle == nil })
        #expect(runs.allSatisfy { (0...1).contains($0.trainAccuracy) && abs($0.gap - ($0.trainAccuracy - $0.testAccuracy)) < 1e-12 })
        let table = FAClassesExperiment.markdown(runs).split(separator: "\n")
        #expect(table.count == 2 + 4 && table[2].hasPrefix("| blobs | 2 | bp | 2 |") && table[2].contains(" ± "))
    }
}
