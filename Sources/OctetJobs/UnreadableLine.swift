import Foundation

/// The output line of a sample whose own file could not be read (missing, not an image,
/// corrupt), in place of its prediction or index line: the sample's index in the job, its file
/// and why. The job goes on with the other samples.
public struct UnreadableLine: OutputLine, Codable, Sendable, Hashable {
    public var index: Int
    public var file: String
    public var error: String

    init(_ u: Octet_Jobs_UnreadableSample) {
        index = Int(u.index)
        file = u.name
        error = u.error
    }

    /// How many lines of a JSON-lines output file are unreadable samples' lines. Keys are sorted,
    /// so such a line, and only such a line, begins with `{"error":` (a prediction's begins with
    /// `{"classes":`, an index line's with `{"file":`). Reads the file in 1 MB chunks, so a job of
    /// millions of lines is counted in constant memory.
    public static func count(inFile path: String) throws -> Int {
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? file.close() }
        let prefix = Array("{\"error\":".utf8)
        var count = 0
        var matched = 0  // bytes of `prefix` the current line starts with so far; -1: it does not
        while let chunk = try file.read(upToCount: 1 << 20), !chunk.isEmpty {
            for byte in chunk {
                if byte == UInt8(ascii: "\n") {
                    matched = 0
                } else if matched >= 0, matched < prefix.count {
                    matched = byte == prefix[matched] ? matched + 1 : -1
                    if matched == prefix.count { count += 1 }
                }
            }
        }
        return count
    }
}
