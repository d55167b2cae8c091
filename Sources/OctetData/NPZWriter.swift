import Foundation

/// Writes a NumPy `.npz` archive (an uncompressed ZIP of `.npy` arrays, as `numpy.savez`
/// writes) whose arrays grow along their first axis: `append` adds rows (images) to an array,
/// kept in a temporary file, so memory stays bounded; `finish` writes the archive.
public final class NPZWriter {
    public let path: String
    private var arrays: [(name: String, rowDims: [Int], rows: Int, file: URL, handle: FileHandle)] = []
    private let directory: URL

    public init(path: String) throws(DataError) {
        self.path = path
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("octet-npz-\(UUID().uuidString)")
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw .badNPY(path: path, reason: "cannot create a temporary directory: \(error.localizedDescription)")
        }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Appends `rows` rows of shape `rowDims` to array `name`; every append to one array must
    /// have the same row shape.
    public func append(_ name: String, rowDims: [Int], rows: Int, values: [Float]) throws(DataError) {
        guard values.count == rows * rowDims.reduce(1, *) else {
            throw .badNPY(path: path, reason: "'\(name)': \(values.count) values for \(rows) rows of \(rowDims)")
        }
        let index: Int
        if let i = arrays.firstIndex(where: { $0.name == name }) {
            guard arrays[i].rowDims == rowDims else {
                throw .badNPY(path: path, reason: "'\(name)': rows of shape \(rowDims) after rows of \(arrays[i].rowDims) (images of different sizes give outputs of different shapes; use a recipe with a fixed size)")
            }
            index = i
        } else {
            let file = directory.appendingPathComponent("\(arrays.count).raw")
            guard FileManager.default.createFile(atPath: file.path, contents: nil), let h = try? FileHandle(forWritingTo: file) else {
                throw .badNPY(path: path, reason: "cannot write a temporary file")
            }
            arrays.append((name, rowDims, 0, file, h))
            index = arrays.count - 1
        }
        do { try values.withUnsafeBytes { try arrays[index].handle.write(contentsOf: Data($0)) } } catch {
            throw .badNPY(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
        arrays[index].rows += rows
    }

    /// Writes the archive: one `NAME.npy` entry per array, in the order arrays were first appended.
    public func finish() throws(DataError) {
        guard FileManager.default.createFile(atPath: path, contents: nil), let out = try? FileHandle(forWritingTo: URL(fileURLWithPath: path)) else {
            throw .badNPY(path: path, reason: "cannot create the file")
        }
        defer { try? out.close() }
        var central = Data()
        var offset = 0
        do {
            for a in arrays {
                try a.handle.close()
                let header = Self.npyHeader(shape: [a.rows] + a.rowDims)
                let raw = try FileHandle(forReadingFrom: a.file)
                defer { try? raw.close() }
                var crc = CRC32()
                crc.update(header)
                var size = header.count
                while let chunk = try raw.read(upToCount: 1 << 22), !chunk.isEmpty { crc.update(chunk); size += chunk.count }
                guard size < Int(UInt32.max) else { throw DataError.badNPY(path: path, reason: "'\(a.name)' exceeds 4 GiB (ZIP64 is not written)") }
                let name = Data((a.name + ".npy").utf8)
                var local = Data()
                local.le32(0x04034b50); local.le16(20); local.le16(0); local.le16(0); local.le16(0); local.le16(0x21)
                local.le32(crc.value); local.le32(UInt32(size)); local.le32(UInt32(size)); local.le16(UInt16(name.count)); local.le16(0)
                local.append(name)
                try out.write(contentsOf: local)
                try out.write(contentsOf: header)
                try raw.seek(toOffset: 0)
                while let chunk = try raw.read(upToCount: 1 << 22), !chunk.isEmpty { try out.write(contentsOf: chunk) }
                central.le32(0x02014b50); central.le16(20); central.le16(20); central.le16(0); central.le16(0); central.le16(0); central.le16(0x21)
                central.le32(crc.value); central.le32(UInt32(size)); central.le32(UInt32(size)); central.le16(UInt16(name.count))
                central.le16(0); central.le16(0); central.le16(0); central.le16(0); central.le32(0); central.le32(UInt32(offset))
                central.append(name)
                offset += local.count + size
            }
            var end = Data()
            end.le32(0x06054b50); end.le16(0); end.le16(0); end.le16(UInt16(arrays.count)); end.le16(UInt16(arrays.count))
            end.le32(UInt32(central.count)); end.le32(UInt32(offset)); end.le16(0)
            try out.write(contentsOf: central)
            try out.write(contentsOf: end)
        } catch let e as DataError {
            throw e
        } catch {
            throw .badNPY(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// The `.npy` (version 1.0) header of a little-endian float32 array.
    static func npyHeader(shape: [Int]) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let n = header.utf8.count
        data.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)])
        data.append(contentsOf: Array(header.utf8))
        return data
    }
}

/// The ZIP (IEEE 802.3) CRC-32.
struct CRC32 {
    private(set) var value: UInt32 = 0
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1 }
        return c
    }
    mutating func update(_ data: Data) {
        var c = ~value
        data.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
            for byte in b { c = Self.table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        }
        value = ~c
    }
}

extension Data {
    mutating func le16(_ v: UInt16) { append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8)]) }
    mutating func le32(_ v: UInt32) { append(contentsOf: [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]) }
}
