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
    /// `{"classes":`, an index line's with `{"file":`).
    public static func count(inFile path: String) throws -> Int {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let prefix = Array("{\"error\":".utf8)
        var count = 0, lineStart = 0
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            for i in 0...bytes.count where i == bytes.count || bytes[i] == UInt8(ascii: "\n") {
                if i - lineStart >= prefix.count, prefix.indices.allSatisfy({ bytes[lineStart + $0] == prefix[$0] }) { count += 1 }
                lineStart = i + 1
            }
        }
        return count
    }
}
