import Foundation

/// Appends one JSON object per line to a file: the configuration first, then one record per epoch.
public final class RunLog {
    private let handle: FileHandle
    public let path: String

    public init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw DataError.unreadable(path: path, reason: "cannot create the log file")
        }
        self.handle = handle
        self.path = path
    }

    /// Writes `record` as one line, with `"type": type` added.
    public func write<T: Encodable>(type: String, _ record: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var object = try JSONSerialization.jsonObject(with: encoder.encode(record)) as? [String: Any] ?? [:]
        object["type"] = type
        var line = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        line.append(0x0A)
        handle.write(line)
    }

    deinit { try? handle.close() }
}
