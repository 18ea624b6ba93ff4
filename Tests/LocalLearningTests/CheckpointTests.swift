import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Safetensors, atomic writes, model weights")
struct CheckpointTests {
    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ll-\(UUID().uuidString)-\(name)").path
    }

    @Test func safetensorsRoundTripAndLayout() throws {
        var rng = SeededGenerator(seed: 1)
        let a = Tensor.uniform([2, 3], bound: 1, using: &rng)
        let file = Safetensors.File(tensors: ["b.weight": .init(a), "a.state": .init([1, UInt64.max, 42])], metadata: ["k": "v"])
        let bytes = try Safetensors.encode(file)
        // 8-byte little-endian header length, header padded to a multiple of 8, then the data.
        let headerLength = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect((8 + headerLength) % 8 == 0)
        #expect(bytes.count == 8 + headerLength + 24 + 24)
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        #expect(header.contains("\"a.state\":{\"data_offsets\":[0,24],\"dtype\":\"U64\",\"shape\":[3]}"))
        #expect(header.contains("\"b.weight\":{\"data_offsets\":[24,48],\"dtype\":\"F32\",\"shape\":[2,3]}"))
        let back = try Safetensors.decode(bytes, path: "t")
        #expect(back == file)
        #expect(try back.tensor("b.weight") == a)
        #expect(try back.unsignedIntegers("a.state") == [1, UInt64.max, 42])
        #expect(throws: CheckpointError.missingTensor(path: "t", name: "c")) { try back.tensor("c", path: "t") }
        #expect(throws: CheckpointError.self) { try back.tensor("b.weight", shape: [3, 2]) }
    }

    @Test func anInterruptedWriteLeavesThePreviousFile() throws {
        let path = Self.temporaryPath("atomic.bin")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AtomicFile.write([1, 2, 3], to: path)
        struct Crash: Error {}
        #expect(throws: Crash.self) { try AtomicFile.write([9, 9, 9, 9], to: path) { throw Crash() } }
        #expect(FileManager.default.contents(atPath: path).map([UInt8].init) == [1, 2, 3])
        try AtomicFile.write([4, 5], to: path)
        #expect(FileManager.default.contents(atPath: path).map([UInt8].init) == [4, 5])
        #expect(throws: CheckpointError.self) { try AtomicFile.write([1], to: "/nonexistent-dir/x.bin") }
    }

    @Test func modelWeightsRoundTripThroughAFile() throws {
        let spec = "cnn:4,M,6,A2:fc8"
        let source = try ModelSpec.build(spec, inputShape: [1, 8, 8], classes: 3, seed: 1)
        var rng = SeededGenerator(seed: 5)
        // Move the BatchNorm statistics away from their initial values.
        _ = source.forward(Tensor.uniform([4, 1, 8, 8], bound: 1, using: &rng), mode: .training)
        let names = ModelWeights.tensors(of: source).map(\.name)
        #expect(names.contains("conv1.0.weight") && names.contains("conv1.1.running_var") && names.contains("classifier.0.bias"))
        let path = Self.temporaryPath("w.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Safetensors.write(ModelWeights.file(of: source), to: path)
        let target = try ModelSpec.build(spec, inputShape: [1, 8, 8], classes: 3, seed: 2)
        #expect(target.parameters.map(\.value) != source.parameters.map(\.value))
        try ModelWeights.load(Safetensors.read(path), into: target, path: path)
        #expect(target.parameters.map(\.value) == source.parameters.map(\.value))
        let x = Tensor.uniform([2, 1, 8, 8], bound: 1, using: &rng)
        #expect(target.forward(x, mode: .evaluation) == source.forward(x, mode: .evaluation))
        // A model of another shape is refused, naming the tensor, and left untouched.
        let other = try ModelSpec.build("cnn:5,M,6,A2:fc8", inputShape: [1, 8, 8], classes: 3)
        let before = other.parameters.map(\.value)
        #expect(throws: CheckpointError.wrongTensor(path: path, name: "conv1.0.weight", reason: "shape [4, 1, 3, 3], expected [5, 1, 3, 3]")) {
            try ModelWeights.load(Safetensors.read(path), into: other, path: path)
        }
        #expect(other.parameters.map(\.value) == before)
    }
}

@Suite("Parsers never crash on damaged files")
struct ParserFuzzTests {
    /// Damaged copies of `valid`: truncations, bit flips, random bytes and overwritten header words.
    static func mutations(of valid: [UInt8], count: Int, seed: UInt64, headerWords: [Int]) -> [[UInt8]] {
        var rng = SeededGenerator(seed: seed)
        let extremes: [UInt64] = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000_0000, UInt64(Int64.max), UInt64.max, 1 << 40]
        return (0..<count).map { i in
            var bytes = valid
            switch i % 4 {
            case 0:
                bytes = Array(bytes.prefix(rng.nextInt(below: bytes.count + 1)))
            case 1:
                for _ in 0..<(1 + rng.nextInt(below: 4)) {
                    let at = rng.nextInt(below: bytes.count)
                    bytes[at] ^= UInt8(1 << rng.nextInt(below: 8))
                }
            case 2:
                let at = rng.nextInt(below: min(bytes.count, 96))
                for j in at..<min(bytes.count, at + 1 + rng.nextInt(below: 8)) { bytes[j] = UInt8(rng.nextInt(below: 256)) }
            default:
                let at = headerWords[rng.nextInt(below: headerWords.count)]
                let value = extremes[rng.nextInt(below: extremes.count)]
                for j in 0..<8 where at + j < bytes.count { bytes[at + j] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(j))) }
            }
            return bytes
        }
    }

    @Test func idx() {
        let valid = IDX.encode(dimensions: [3, 4, 5], bytes: (0..<60).map { UInt8($0) })
        var errors = 0, parsed = 0
        for bytes in Self.mutations(of: valid, count: 4000, seed: 1, headerWords: [0, 4, 8, 12]) {
            do { _ = try IDX.parse(bytes, path: "fuzz.idx", expectedRank: 3); parsed += 1 } catch is DataError { errors += 1 } catch {
                Issue.record("untyped error \(error)")
            }
        }
        print("IDX fuzz: 4000 mutations, \(errors) typed errors, \(parsed) still valid")
        #expect(errors + parsed == 4000 && errors > 1000)
        // Gzip: damaged compressed streams are typed errors too.
        let gz = try! FileBytes.gzip(valid)
        var gzErrors = 0
        for bytes in Self.mutations(of: gz, count: 2000, seed: 2, headerWords: [0, 4]) {
            do { _ = try FileBytes.inflate(bytes, path: "fuzz.gz") } catch is DataError { gzErrors += 1 } catch { Issue.record("untyped error \(error)") }
        }
        print("gzip fuzz: 2000 mutations, \(gzErrors) typed errors")
        #expect(gzErrors > 500)
    }

    @Test func cifar() {
        let record = [UInt8(3)] + [UInt8](repeating: 7, count: 3072)
        let valid = record + record
        var errors = 0, parsed = 0
        for bytes in Self.mutations(of: valid, count: 2000, seed: 3, headerWords: [0, 3073]) {
            do { _ = try CIFAR.parse(bytes, path: "fuzz.bin", labelBytes: 1, classes: 10); parsed += 1 } catch is DataError { errors += 1 } catch {
                Issue.record("untyped error \(error)")
            }
        }
        print("CIFAR fuzz: 2000 mutations, \(errors) typed errors, \(parsed) still valid")
        #expect(errors + parsed == 2000 && errors > 400)
    }

    @Test func safetensors() throws {
        var rng = SeededGenerator(seed: 4)
        let valid = try Safetensors.encode(.init(tensors: ["w": .init(Tensor.uniform([3, 4], bound: 1, using: &rng)), "s": .init([5, 6])],
                                                 metadata: ["model": "mlp"]))
        var errors = 0, parsed = 0
        // Header-length word, and words inside the JSON (offsets, shapes) and the data.
        for bytes in Self.mutations(of: valid, count: 5000, seed: 5, headerWords: [0, 8, 24, 40, 60, 80, 100]) {
            do { _ = try Safetensors.decode(bytes, path: "fuzz.safetensors"); parsed += 1 } catch is CheckpointError { errors += 1 } catch {
                Issue.record("untyped error \(error)")
            }
        }
        print("safetensors fuzz: 5000 mutations, \(errors) typed errors, \(parsed) still valid")
        #expect(errors + parsed == 5000 && errors > 2000)
        // A declared header larger than the file is refused before anything is allocated for it.
        var huge = valid
        for j in 0..<8 { huge[j] = 0xFF }
        #expect(throws: CheckpointError.self) { try Safetensors.decode(huge, path: "x") }
    }
}

@Suite("ResNets")
struct ResNetTests {
    @Test func resnet20HasTheExpectedShapeAndParameters() throws {
        let model = try ModelSpec.build("resnet20", inputShape: [3, 32, 32], classes: 10)
        // 1 stem + 9 BasicBlocks + classifier; 1×1 projection shortcuts where the width doubles.
        #expect(model.blocks.count == 11)
        #expect(model.blockOutputShapes[3] == [16, 32, 32] && model.blockOutputShapes[4] == [32, 16, 16] && model.blockOutputShapes[9] == [64, 8, 8])
        // He et al.'s ResNet-20 (0.27M) with projection shortcuts: 16·32 + 32·64 convolution weights and their BatchNorms more.
        #expect(model.parameterCount == 272_474)
        #expect(try ModelSpec.build("resnet20", inputShape: [1, 28, 28], classes: 10).blockOutputShapes[9] == [64, 7, 7])
        let names = ModelWeights.tensors(of: model).map(\.name)
        #expect(names.contains("res4.0.shortcut.0.weight") && names.contains("res4.0.body.4.running_var") && names.contains("stem.0.weight"))
        #expect(Set(names).count == names.count)
        #expect(model.weightedLayers.count == 19 + 2 + 1)
    }
}
