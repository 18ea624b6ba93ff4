import Foundation
import LocalLearning
import Yams

/// A typed value from a configuration file.
public enum ConfigValue: Sendable, Equatable {
    case integer(Int), number(Double), text(String), flag(Bool)
}

/// What a configuration key holds.
public enum ConfigKind: String, Sendable {
    case integer = "an integer", number = "a number", text = "a string", flag = "true or false"
}

/// A configuration file's problem, naming the file and the key.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let key: String?
    public let reason: String

    public var description: String { "\(path)\(key.map { ": key '\($0)'" } ?? ""): \(reason)" }
}

/// Reads a YAML mapping of option names to values and checks every key and type against a schema.
/// Nested mappings are addressed by dotted paths (`sll.dropout`); unknown keys and wrong types are
/// errors naming the key's path and the expected type.
public enum ConfigFile {
    /// Largest accepted file (configuration files are small; this bounds parsing work on hostile input).
    public static let maximumBytes = 1 << 20

    public static func parse(_ text: String, path: String, schema: [String: ConfigKind]) throws -> [String: ConfigValue] {
        guard text.utf8.count <= maximumBytes else { throw ConfigError(path: path, key: nil, reason: "larger than \(maximumBytes) bytes") }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(path: path, key: nil, reason: "not valid YAML (\(String(describing: error).split(separator: "\n").first ?? ""))")
        }
        guard let node else { return [:] }
        guard case let .mapping(mapping) = node else { throw ConfigError(path: path, key: nil, reason: "expected a mapping of option names to values") }
        var values: [String: ConfigValue] = [:]
        try collect(mapping, prefix: "", path: path, schema: schema, into: &values)
        return values
    }

    static func collect(_ mapping: Node.Mapping, prefix: String, path: String, schema: [String: ConfigKind],
                        into values: inout [String: ConfigValue]) throws {
        for (keyNode, valueNode) in mapping {
            guard let name = keyNode.scalar?.string else { throw ConfigError(path: path, key: prefix.isEmpty ? nil : prefix, reason: "a key is not a string") }
            let key = prefix + name
            if case let .mapping(inner) = valueNode, schema[key] == nil {
                try collect(inner, prefix: key + ".", path: path, schema: schema, into: &values)
                continue
            }
            guard let kind = schema[key] else {
                let known = schema.keys.sorted().joined(separator: ", ")
                throw ConfigError(path: path, key: key, reason: "unknown key (known: \(known))")
            }
            guard values[key] == nil else { throw ConfigError(path: path, key: key, reason: "given twice") }
            guard let scalar = valueNode.scalar else { throw ConfigError(path: path, key: key, reason: "expected \(kind.rawValue), got a list or mapping") }
            values[key] = try convert(scalar, kind: kind, key: key, path: path)
        }
    }

    static func convert(_ scalar: Node.Scalar, kind: ConfigKind, key: String, path: String) throws -> ConfigValue {
        let text = scalar.string
        let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
        func wrong() -> ConfigError { ConfigError(path: path, key: key, reason: "expected \(kind.rawValue), got '\(text.prefix(80))'") }
        switch kind {
        case .text:
            return .text(text)
        case .integer:
            guard !quoted, let value = Int(text) else { throw wrong() }
            return .integer(value)
        case .number:
            guard !quoted, let value = Double(text), value.isFinite else { throw wrong() }
            return .number(value)
        case .flag:
            guard !quoted else { throw wrong() }
            switch text.lowercased() {
            case "true", "yes", "on": return .flag(true)
            case "false", "no", "off": return .flag(false)
            default: throw wrong()
            }
        }
    }
}
