import OctetCore

/// A named set of histograms in a dense, fixed-width binary form: every count is a little-endian
/// Int64 at an 8-byte-aligned offset, which is what byte shuffling + LZ4 compress best. This is
/// the payload a worker returns per calibration shard.
///
/// Layout: "OHS1", u32 count, then per tensor (sorted by name) u16 length + UTF-8 name, zero
/// padding to a multiple of 8; then per tensor 5 Int64 (exponent or Int64.min, zeros, non-finite,
/// negatives, maxAbs bits) and `AbsHistogram.binCount` Int64 bins.
public enum HistogramSet {
    static let magic: [UInt8] = Array("OHS1".utf8)

    public static func encode(_ set: [String: AbsHistogram]) -> [UInt8] {
        let names = set.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var out = magic
        append(UInt64(names.count), bytes: 4, to: &out)
        for n in names {
            let utf8 = Array(n.utf8.prefix(Int(UInt16.max)))
            append(UInt64(utf8.count), bytes: 2, to: &out)
            out += utf8
        }
        while out.count % 8 != 0 { out.append(0) }
        for n in names {
            let h = set[n]!
            append(UInt64(bitPattern: h.exponent.map(Int64.init) ?? Int64.min), bytes: 8, to: &out)
            for v in [h.zeros, h.nonFinite, h.negatives] { append(UInt64(bitPattern: v), bytes: 8, to: &out) }
            append(UInt64(h.maxAbs.bitPattern), bytes: 8, to: &out)
            out.reserveCapacity(out.count + h.bins.count * 8)
            for b in h.bins { append(UInt64(bitPattern: b), bytes: 8, to: &out) }
        }
        return out
    }

    public static func decode(_ bytes: [UInt8]) throws(HistogramDecodingError) -> [String: AbsHistogram] {
        var reader = LittleEndianReader(bytes)
        func read(_ n: Int) throws(HistogramDecodingError) -> UInt64 {
            guard let v = reader.read(n) else { throw .truncated }
            return v
        }
        guard bytes.count >= 8, Array(bytes[0..<4]) == magic else { throw .malformed("not a histogram set") }
        reader.position = 4
        let count = Int(try read(4))
        let perHistogram = (5 + AbsHistogram.binCount) * 8
        guard count <= bytes.count / perHistogram else { throw .malformed("\(count) histograms cannot fit in \(bytes.count) bytes") }
        var names: [String] = []
        for _ in 0..<count {
            let n = Int(try read(2))
            guard let utf8 = reader.take(n) else { throw .truncated }
            guard let name = String(validating: utf8, as: UTF8.self) else { throw .malformed("tensor name is not UTF-8") }
            names.append(name)
        }
        guard Set(names).count == names.count else { throw .malformed("duplicate tensor name") }
        reader.position = (reader.position + 7) / 8 * 8
        guard reader.remaining == count * perHistogram, reader.position <= bytes.count else {
            throw .malformed("\(reader.remaining) bytes of histograms for \(count) tensors")
        }
        var set: [String: AbsHistogram] = [:]
        for name in names {
            var h = AbsHistogram()
            let e = Int64(bitPattern: try read(8))
            if e != Int64.min {
                guard e >= Int64(AbsHistogram.minExponent), e <= 200 else { throw .malformed("exponent \(e)") }
                h.exponent = Int(e)
            }
            func count() throws(HistogramDecodingError) -> Int64 {
                let v = Int64(bitPattern: try read(8))
                guard v >= 0 else { throw .malformed("negative count") }
                return v
            }
            h.zeros = try count(); h.nonFinite = try count(); h.negatives = try count()
            let bits = try read(8)
            guard bits <= UInt64(UInt32.max) else { throw .malformed("maxAbs") }
            h.maxAbs = Float(bitPattern: UInt32(bits))
            for i in 0..<AbsHistogram.binCount { h.bins[i] = try count() }
            if let problem = h.validate() { throw .malformed("\(name): \(problem)") }
            set[name] = h
        }
        return set
    }

    private static func append(_ v: UInt64, bytes: Int, to out: inout [UInt8]) {
        for i in 0..<bytes { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
}
