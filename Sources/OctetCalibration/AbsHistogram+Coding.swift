import Foundation

extension AbsHistogram: Codable {
    enum CodingKeys: String, CodingKey { case exponent, zeros, nonFinite, negatives, maxAbs, bins }

    /// Bins are encoded sparsely as [index, count] pairs.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(exponent, forKey: .exponent)
        try c.encode(zeros, forKey: .zeros)
        try c.encode(nonFinite, forKey: .nonFinite)
        try c.encode(negatives, forKey: .negatives)
        try c.encode(maxAbs, forKey: .maxAbs)
        try c.encode(bins.indices.filter { bins[$0] != 0 }.map { [Int64($0), bins[$0]] }, forKey: .bins)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        exponent = try c.decodeIfPresent(Int.self, forKey: .exponent)
        zeros = try c.decode(Int64.self, forKey: .zeros)
        nonFinite = try c.decode(Int64.self, forKey: .nonFinite)
        negatives = try c.decode(Int64.self, forKey: .negatives)
        maxAbs = try c.decode(Float.self, forKey: .maxAbs)
        for pair in try c.decode([[Int64]].self, forKey: .bins) {
            guard pair.count == 2, pair[0] >= 0, pair[0] < Int64(Self.binCount), pair[1] >= 0 else {
                throw DecodingError.dataCorruptedError(forKey: .bins, in: c, debugDescription: "bad bin \(pair)")
            }
            bins[Int(pair[0])] = pair[1]
        }
        try validate().map { throw DecodingError.dataCorruptedError(forKey: .bins, in: c, debugDescription: $0) }
    }

    /// A description of the first broken invariant, or nil.
    func validate() -> String? {
        if zeros < 0 || nonFinite < 0 || negatives < 0 { return "negative count" }
        if !maxAbs.isFinite || maxAbs < 0 { return "maxAbs \(maxAbs) is not a finite non-negative value" }
        if let e = exponent {
            if e < Self.minExponent || e > 128 { return "exponent \(e) out of range" }
            if e != Self.exponent(for: maxAbs) && maxAbs > 0 { return "exponent \(e) does not match maxAbs \(maxAbs)" }
        } else if binned != 0 || maxAbs != 0 {
            return "bins or maxAbs set without an exponent"
        }
        return nil
    }

    /// Compact binary form: a fixed header, then the non-zero bins as (index delta, count)
    /// LEB128 varints. Used on the wire, where it is further byte-shuffled and LZ4-compressed.
    public var binaryRepresentation: [UInt8] {
        var out: [UInt8] = [1]  // format version
        func varint(_ v: UInt64) { var x = v; while x >= 0x80 { out.append(UInt8(x & 0x7F) | 0x80); x >>= 7 }; out.append(UInt8(x)) }
        func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
        varint(exponent.map { zigzag(Int64($0)) + 1 } ?? 0)
        varint(UInt64(zeros)); varint(UInt64(nonFinite)); varint(UInt64(negatives))
        varint(UInt64(maxAbs.bitPattern))
        let nonzero = bins.indices.filter { bins[$0] != 0 }
        varint(UInt64(nonzero.count))
        var previous = -1
        for i in nonzero { varint(UInt64(i - previous)); varint(UInt64(bins[i])); previous = i }
        return out
    }

    /// Decodes `binaryRepresentation`, rejecting anything malformed.
    public init(binary bytes: [UInt8]) throws(HistogramDecodingError) {
        var pos = 0
        func varint() throws(HistogramDecodingError) -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard pos < bytes.count else { throw .truncated }
                let b = bytes[pos]; pos += 1
                guard shift < 64 else { throw .malformed("varint too long") }
                v |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return v }
                shift += 7
            }
        }
        guard bytes.first == 1 else { throw .malformed("unknown format version \(bytes.first.map(String.init) ?? "none")") }
        pos = 1
        self.init()
        let e = try varint()
        if e > 0 { let z = e - 1; exponent = Int(Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1)) }
        func count() throws(HistogramDecodingError) -> Int64 {
            let v = try varint()
            guard v <= UInt64(Int64.max) else { throw .malformed("count overflows") }
            return Int64(v)
        }
        zeros = try count(); nonFinite = try count(); negatives = try count()
        let bits = try varint()
        guard bits <= UInt64(UInt32.max) else { throw .malformed("maxAbs") }
        maxAbs = Float(bitPattern: UInt32(bits))
        let n = try varint()
        guard n <= UInt64(Self.binCount) else { throw .malformed("\(n) bins") }
        var index = -1
        for _ in 0..<n {
            let delta = try varint()
            guard delta >= 1, delta <= UInt64(Self.binCount) else { throw .malformed("bin index delta \(delta)") }
            index += Int(delta)
            guard index < Self.binCount else { throw .malformed("bin index \(index)") }
            bins[index] = try count()
        }
        guard pos == bytes.count else { throw .malformed("\(bytes.count - pos) trailing bytes") }
        if let problem = validate() { throw .malformed(problem) }
    }
}

/// Why bytes are not a valid histogram.
public enum HistogramDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    case truncated
    case malformed(String)
    public var description: String {
        switch self {
        case .truncated: "histogram data is truncated"
        case .malformed(let s): "histogram data is malformed: \(s)"
        }
    }
}
