import CLZ4
import Foundation

/// Byte shuffle + LZ4, for histogram payloads: shuffling groups the i-th byte of every
/// `elementSize`-byte element together, so the mostly-zero high bytes of Int64 counts become long
/// runs LZ4 compresses well. Decompression is bounded: a payload claiming more than `maxRawBytes`
/// is refused before any allocation, so a small message cannot expand into an LZ4 bomb.
public enum Compression {
    public static func pack(_ raw: [UInt8], elementSize: Int = 8) -> Octet_Wire_Compressed {
        let shuffled = shuffle(raw, elementSize: elementSize)
        let bound = Int(LZ4_compressBound(Int32(shuffled.count)))
        var out = [UInt8](repeating: 0, count: max(bound, 1))
        let n = shuffled.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                src.baseAddress.map { s in
                    s.withMemoryRebound(to: CChar.self, capacity: src.count) { s8 in
                        dst.baseAddress!.withMemoryRebound(to: CChar.self, capacity: dst.count) { d8 in
                            LZ4_compress_default(s8, d8, Int32(src.count), Int32(dst.count))
                        }
                    }
                } ?? 0
            }
        }
        var c = Octet_Wire_Compressed()
        c.rawSize = UInt64(raw.count)
        c.elementSize = UInt32(elementSize)
        c.lz4 = Data(out.prefix(Int(n)))
        return c
    }

    public static func unpack(_ c: Octet_Wire_Compressed, maxRawBytes: Int = WireProtocol.maxDecompressedBytes) throws(WireError) -> [UInt8] {
        guard c.rawSize <= UInt64(maxRawBytes) else { throw .compression("declares \(c.rawSize) bytes, over the \(maxRawBytes)-byte limit") }
        guard c.elementSize >= 1, c.elementSize <= 64 else { throw .compression("element size \(c.elementSize)") }
        let rawSize = Int(c.rawSize)
        if rawSize == 0 { guard c.lz4.isEmpty else { throw .compression("data for an empty payload") }; return [] }
        guard c.lz4.count <= Int(LZ4_compressBound(Int32(rawSize))) else { throw .compression("compressed size exceeds the LZ4 bound") }
        var out = [UInt8](repeating: 0, count: rawSize)
        let source = [UInt8](c.lz4)
        let n = source.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress else { return Int32(-1) }
                return s.withMemoryRebound(to: CChar.self, capacity: src.count) { s8 in
                    dst.baseAddress!.withMemoryRebound(to: CChar.self, capacity: dst.count) { d8 in
                        LZ4_decompress_safe(s8, d8, Int32(src.count), Int32(dst.count))
                    }
                }
            }
        }
        guard n == Int32(rawSize) else { throw .compression(n < 0 ? "corrupt LZ4 stream" : "decoded \(n) bytes, expected \(rawSize)") }
        return unshuffle(out, elementSize: Int(c.elementSize))
    }

    /// Byte i of element j goes to position i·count + j; a tail shorter than one element stays put.
    static func shuffle(_ bytes: [UInt8], elementSize: Int) -> [UInt8] {
        guard elementSize > 1 else { return bytes }
        let count = bytes.count / elementSize
        var out = bytes
        for j in 0..<count { for i in 0..<elementSize { out[i * count + j] = bytes[j * elementSize + i] } }
        return out
    }

    static func unshuffle(_ bytes: [UInt8], elementSize: Int) -> [UInt8] {
        guard elementSize > 1 else { return bytes }
        let count = bytes.count / elementSize
        var out = bytes
        for j in 0..<count { for i in 0..<elementSize { out[j * elementSize + i] = bytes[i * count + j] } }
        return out
    }
}
