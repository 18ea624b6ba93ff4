import CZlib
import Foundation

/// Reads a file whole, inflating it when it is gzip-compressed (by its 1F 8B signature).
enum FileBytes {
    /// Hard limit on the inflated size, so a corrupt or hostile header cannot exhaust memory.
    static let maximumInflatedBytes = 1 << 31

    static func read(_ path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw DataError.missing(path: path) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw DataError.unreadable(path: path, reason: "a folder, not a file")
        }
        // open(2) tells why a file that exists cannot be read (EACCES: permission denied).
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw DataError.unreadable(path: path, reason: DataError.reason(errno: errno)) }
        close(descriptor)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadable(path: path, reason: "not a regular file")
        }
        let bytes = [UInt8](data)
        if bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B {
            return try inflate(bytes, path: path)
        }
        return bytes
    }

    /// Inflates every gzip member of `input` in turn (RFC 1952 allows several, e.g. `cat a.gz b.gz`).
    static func inflate(_ input: [UInt8], path: String) throws -> [UInt8] {
        var stream = z_stream()
        // 15 + 16: a gzip wrapper with the largest window.
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError.corruptCompression(path: path, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(input.count * 4)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            stream.avail_in = uInt(source.count)
            repeat {
                try chunk.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = uInt(buffer.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    guard status == Z_OK || status == Z_STREAM_END else {
                        let message = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                        throw DataError.corruptCompression(path: path, reason: message)
                    }
                    output.append(contentsOf: buffer[0..<(buffer.count - Int(stream.avail_out))])
                }
                guard output.count <= maximumInflatedBytes else {
                    throw DataError.corruptCompression(path: path, reason: "inflates to more than \(maximumInflatedBytes) bytes")
                }
                if status != Z_STREAM_END && stream.avail_in == 0 && stream.avail_out != 0 {
                    throw DataError.corruptCompression(path: path, reason: "the stream ends early")
                }
                // Another member follows this one: start it afresh (trailing zero padding is ignored, as gzip does).
                if status == Z_STREAM_END, stream.avail_in >= 2, stream.next_in[0] == 0x1F, stream.next_in[1] == 0x8B {
                    guard inflateReset(&stream) == Z_OK else {
                        throw DataError.corruptCompression(path: path, reason: "zlib could not start the next member")
                    }
                    status = Z_OK
                }
            } while status != Z_STREAM_END
        }
        return output
    }

    /// Compresses `input` as a single gzip member (for fixtures and exported files).
    static func gzip(_ input: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError.corruptCompression(path: "(memory)", reason: "zlib could not start")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        let written: Int = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
                stream.avail_in = uInt(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = uInt(target.count)
                _ = deflate(&stream, Z_FINISH)
                return target.count - Int(stream.avail_out)
            }
        }
        return Array(output.prefix(written))
    }
}
