import Foundation

/// Reads a NumPy `.npz` archive as `numpy.savez` writes it: an uncompressed ZIP whose entries
/// `NAME.npy` are float32 arrays (`NPYFile`). Entries are found through the ZIP's central
/// directory; compressed entries (`numpy.savez_compressed`) and ZIP64 archives are refused by name.
public enum NPZFile {
    public static func read(path: String) throws(DataError) -> [(name: String, shape: [Int], values: [Float])] {
        guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String) throws(DataError) -> [(name: String, shape: [Int], values: [Float])] {
        let bytes = [UInt8](data)
        func u16(_ i: Int) -> Int? { i >= 0 && i + 2 <= bytes.count ? Int(bytes[i]) | Int(bytes[i + 1]) << 8 : nil }
        func u32(_ i: Int) -> Int? { guard let lo = u16(i), let hi = u16(i + 2) else { return nil }; return lo | hi << 16 }
        func fail(_ reason: String) -> DataError { .badNPY(path: path, reason: reason) }
        // The end-of-central-directory record: its signature within the last 64 KiB + 22 bytes.
        var end = -1
        var i = bytes.count - 22
        while i >= max(0, bytes.count - 22 - 65_535) {
            if u32(i) == 0x06054b50 { end = i; break }
            i -= 1
        }
        guard end >= 0 else { throw fail("not a ZIP archive (.npz): no end of central directory") }
        guard let entries = u16(end + 10), let directorySize = u32(end + 12), let directoryOffset = u32(end + 16) else {
            throw fail("truncated end of central directory")
        }
        guard entries != 0xFFFF, directoryOffset != 0xFFFF_FFFF else { throw fail("ZIP64 archives are not supported") }
        guard directoryOffset + directorySize <= end else { throw fail("central directory outside the file") }
        var arrays: [(name: String, shape: [Int], values: [Float])] = []
        var at = directoryOffset
        for _ in 0..<entries {
            guard u32(at) == 0x02014b50, let method = u16(at + 10), let compressed = u32(at + 20), let size = u32(at + 24),
                  let nameLength = u16(at + 28), let extraLength = u16(at + 30), let commentLength = u16(at + 32),
                  let local = u32(at + 42), at + 46 + nameLength <= bytes.count else { throw fail("corrupt central directory entry") }
            let entry = String(decoding: bytes[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            at += 46 + nameLength + extraLength + commentLength
            guard method == 0 else {
                throw fail("entry '\(entry)' is compressed (method \(method)): write the archive with numpy.savez, not savez_compressed")
            }
            guard compressed == size, size != 0xFFFF_FFFF else { throw fail("entry '\(entry)': ZIP64 sizes are not supported") }
            guard u32(local) == 0x04034b50, let localName = u16(local + 26), let localExtra = u16(local + 28) else {
                throw fail("entry '\(entry)': corrupt local header")
            }
            let start = local + 30 + localName + localExtra
            guard start + size <= bytes.count else { throw fail("entry '\(entry)' is truncated") }
            guard entry.hasSuffix(".npy") else { throw fail("entry '\(entry)' is not a .npy array") }
            let (shape, values) = try NPYFile.parse(Data(bytes[start..<(start + size)]), path: "\(path):\(entry)")
            arrays.append((String(entry.dropLast(4)), shape, values))
        }
        return arrays
    }
}

/// Samples of a model with one or more inputs from a `.npz` archive: one array `[N, ...]` per
/// model input, keyed by the input's name, sample i being row i of every array.
public struct NPZDataset: Dataset {
    public let path: String
    public let count: Int
    /// The arrays by input name, each with its per-sample dims.
    private let arrays: [(name: String, dims: [Int], values: [Float])]

    public init(path: String, limit: Int? = nil) throws(DataError) {
        self.path = path
        let read = try NPZFile.read(path: path)
        guard let first = read.first else { throw .emptyDataset(path) }
        var n: Int? = nil
        var arrays: [(name: String, dims: [Int], values: [Float])] = []
        for a in read {
            guard let rows = a.shape.first else { throw .badNPY(path: path, reason: "array '\(a.name)' is a scalar; each array needs a first axis of samples") }
            if let n, rows != n {
                throw .badNPY(path: path, reason: "array '\(a.name)' has \(rows) samples, '\(first.name)' has \(n): every input needs one row per sample")
            }
            n = rows
            arrays.append((a.name, Array(a.shape.dropFirst()), a.values))
        }
        let total = n ?? 0
        guard total > 0 else { throw .emptyDataset(path) }
        count = min(total, limit ?? total)
        self.arrays = arrays
    }

    /// The names of the arrays (the model inputs they feed).
    public var inputNames: [String] { arrays.map(\.name) }
    public func name(_ index: Int) -> String { "\(path)[\(index)]" }
    public func label(_ index: Int) -> Int? { nil }
    public var sampleShape: [Int]? { arrays.count == 1 ? arrays[0].dims : nil }

    /// The sample of a one-array archive (several arrays: `loadInputs`).
    public func load(_ index: Int) throws(DataError) -> [Float] {
        guard arrays.count == 1 else {
            throw .badNPY(path: path, reason: "holds \(arrays.count) arrays (\(inputNames.joined(separator: ", "))): a model with one input needs one")
        }
        return row(arrays[0], index)
    }

    public func loadInputs(_ index: Int) throws(DataError) -> [String: ShapedSample] {
        var out: [String: ShapedSample] = [:]
        for a in arrays { out[a.name] = ShapedSample(dims: a.dims, values: row(a, index)) }
        return out
    }

    private func row(_ a: (name: String, dims: [Int], values: [Float]), _ index: Int) -> [Float] {
        let n = a.dims.reduce(1, *)
        return Array(a.values[(index * n)..<((index + 1) * n)])
    }
}
