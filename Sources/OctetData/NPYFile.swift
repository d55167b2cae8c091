import Foundation

/// NumPy `.npy` files of little-endian float32 in C order (format versions 1 to 3).
public enum NPYFile {
    public static func read(path: String) throws(DataError) -> (shape: [Int], values: [Float]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String) throws(DataError) -> (shape: [Int], values: [Float]) {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0..<6].elementsEqual([0x93] + Array("NUMPY".utf8)) else {
            throw .badNPY(path: path, reason: "missing the \\x93NUMPY magic")
        }
        let major = bytes[6]
        let headerLength: Int, start: Int
        switch major {
        case 1: headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw .badNPY(path: path, reason: "truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24; start = 12
        default: throw .badNPY(path: path, reason: "unsupported format version \(major)")
        }
        guard bytes.count >= start + headerLength else { throw .badNPY(path: path, reason: "truncated header") }
        let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        guard header.contains("'descr': '<f4'") || header.contains("'descr':'<f4'") else {
            throw .badNPY(path: path, reason: "only little-endian float32 ('<f4') is supported, header: \(header.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard !header.contains("'fortran_order': True") else { throw .badNPY(path: path, reason: "Fortran order is not supported") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw .badNPY(path: path, reason: "no shape in header")
        }
        let dims = header[open.upperBound..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for d in dims {
            guard let v = Int(d), v >= 0 else { throw .badNPY(path: path, reason: "bad dimension '\(d)'") }
            shape.append(v)
        }
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= Int.max / 4 else { throw .badNPY(path: path, reason: "shape \(shape) is too large") }
            count = product
        }
        let body = start + headerLength
        guard bytes.count - body == count * 4 else {
            throw .badNPY(path: path, reason: "has \(bytes.count - body) data bytes, shape \(shape) needs \(count * 4)")
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in bytes[body...].withUnsafeBytes { dst.copyMemory(from: $0) } }
        return (shape, values)
    }

    public static func write(path: String, shape: [Int], values: [Float]) throws(DataError) {
        var data = NPZWriter.npyHeader(shape: shape)
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        do { try data.write(to: URL(fileURLWithPath: path)) } catch { throw .badNPY(path: path, reason: "cannot write: \(error.localizedDescription)") }
    }
}
