import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Configuration files")
struct ConfigFileTests {
    static let schema: [String: ConfigKind] = ["rule": .text, "epochs": .integer, "lr": .number, "standardize": .flag, "sll.dropout": .number]

    @Test func typedValuesAndNestedKeys() throws {
        let values = try ConfigFile.parse("rule: lls\nepochs: 20\nlr: 5e-3\nstandardize: true\nsll:\n  dropout: 0.2\n", path: "r.yaml", schema: Self.schema)
        #expect(values == ["rule": .text("lls"), "epochs": .integer(20), "lr": .number(5e-3), "standardize": .flag(true), "sll.dropout": .number(0.2)])
        #expect(try ConfigFile.parse("", path: "empty.yaml", schema: Self.schema).isEmpty)
    }

    @Test func badKeysAndTypesNameTheKeyAndTheExpectedType() {
        let cases: [(String, ConfigError)] = [
            ("epochs: two", ConfigError(path: "r.yaml", key: "epochs", reason: "expected an integer, got 'two'")),
            ("epochs: \"20\"", ConfigError(path: "r.yaml", key: "epochs", reason: "expected an integer, got '20'")),
            ("lr: [1, 2]", ConfigError(path: "r.yaml", key: "lr", reason: "expected a number, got a list or mapping")),
            ("standardize: maybe", ConfigError(path: "r.yaml", key: "standardize", reason: "expected true or false, got 'maybe'")),
            ("sll:\n  droput: 0.1", ConfigError(path: "r.yaml", key: "sll.droput", reason: "unknown key (known: epochs, lr, rule, sll.dropout, standardize)")),
            ("- a\n- b", ConfigError(path: "r.yaml", key: nil, reason: "expected a mapping of option names to values")),
        ]
        for (text, expected) in cases {
            #expect(throws: expected, "\(text)") { try ConfigFile.parse(text, path: "r.yaml", schema: Self.schema) }
        }
    }

    @Test func fuzzedFilesEndInTypedErrors() {
        let valid = Array("rule: lls\nepochs: 20\nlr: 5e-3\nstandardize: true\nsll:\n  dropout: 0.2\n".utf8)
        var rng = SeededGenerator(seed: 9)
        let alphabet = Array(":-[]{}\"'#&*!|>%@`\n \t0123456789abc.,?".utf8)
        var errors = 0, parsed = 0
        for i in 0..<3000 {
            var bytes = valid
            switch i % 3 {
            case 0: bytes = Array(bytes.prefix(rng.nextInt(below: bytes.count + 1)))
            case 1: for _ in 0..<(1 + rng.nextInt(below: 4)) { bytes[rng.nextInt(below: bytes.count)] = alphabet[rng.nextInt(below: alphabet.count)] }
            default: bytes.insert(contentsOf: (0..<(1 + rng.nextInt(below: 6))).map { _ in alphabet[rng.nextInt(below: alphabet.count)] },
                                  at: rng.nextInt(below: bytes.count))
            }
            do { _ = try ConfigFile.parse(String(decoding: bytes, as: UTF8.self), path: "fuzz.yaml", schema: Self.schema); parsed += 1 }
            catch is ConfigError { errors += 1 } catch { Issue.record("untyped error \(error)") }
        }
        print("YAML config fuzz: 3000 mutations, \(errors) typed errors, \(parsed) still valid")
        #expect(errors + parsed == 3000 && errors > 500)
    }
}
