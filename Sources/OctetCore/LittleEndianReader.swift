/// Reads a byte array front to back: little-endian unsigned integers and byte runs, every read
/// bounds-checked (nil past the end, never a trap). The one reader of the binary payloads workers
/// send (histogram sets, weight-effect sums); each caller turns nil into its own error.
public struct LittleEndianReader {
    public let bytes: [UInt8]
    /// The next byte to read.
    public var position: Int

    public init(_ bytes: [UInt8], at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    /// Bytes left after `position`.
    public var remaining: Int { max(bytes.count - position, 0) }

    /// The next `n` (1...8) bytes as a little-endian integer, or nil when fewer are left.
    public mutating func read(_ n: Int) -> UInt64? {
        guard n >= 1, n <= 8, n <= remaining else { return nil }
        var v: UInt64 = 0
        if n == 8 {
            v = UInt64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: UInt64.self) })
        } else {
            for i in 0..<n { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        }
        position += n
        return v
    }

    /// The next `n` bytes, or nil when fewer are left.
    public mutating func take(_ n: Int) -> ArraySlice<UInt8>? {
        guard n >= 0, n <= remaining else { return nil }
        defer { position += n }
        return bytes[position..<(position + n)]
    }
}
