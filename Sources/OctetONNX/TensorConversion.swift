import Foundation
import OctetCore

/// Converts between ONNX `TensorProto` and `Tensor`: raw_data, typed fields and external data.
enum TensorConversion {
    /// Decodes `proto`; external data is resolved relative to `baseDirectory`.
    static func tensor(from proto: Onnx_TensorProto, baseDirectory: URL?) throws(ONNXError) -> Tensor {
        let name = proto.name
        guard let dtype = DType(rawValue: proto.dataType) else {
            throw .badTensor(name: name, reason: "element type \(proto.dataType) is not supported (float32, uint8, int8, int32, int64 are)")
        }
        let dims = proto.dims.map { Int($0) }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw .badTensor(name: name, reason: "negative dimension in \(dims)") }
        let (count, overflow) = dims.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, count < 1 << 34 else { throw .badTensor(name: name, reason: "shape \(dims) is too large") }
        let shape = Shape(dims)

        var raw: Data? = proto.hasRawData ? proto.rawData : nil
        if proto.dataLocation == .external {
            raw = try externalBytes(proto, baseDirectory: baseDirectory)
        }
        let data: TensorData
        if let raw {
            let expected = count * dtype.byteSize
            guard raw.count == expected else {
                throw .badTensor(name: name, reason: "has \(raw.count) bytes of data, shape \(dims) of \(dtype) needs \(expected)")
            }
            data = decode(raw, dtype: dtype, count: count)
        } else {
            switch dtype {
            case .float32: data = .float32(proto.floatData)
            case .int64: data = .int64(proto.int64Data)
            case .int32: data = .int32(proto.int32Data)
            case .int8: data = .int8(proto.int32Data.map { Int8(truncatingIfNeeded: $0) })
            case .uint8: data = .uint8(proto.int32Data.map { UInt8(truncatingIfNeeded: $0) })
            }
            guard data.count == count else {
                throw .badTensor(name: name, reason: "has \(data.count) elements, shape \(dims) needs \(count)")
            }
        }
        do { return try Tensor(shape: shape, data: data) } catch { throw .badTensor(name: name, reason: "\(error)") }
    }

    private static func decode(_ raw: Data, dtype: DType, count: Int) -> TensorData {
        func load<T>(_ type: T.Type) -> [T] {
            [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                raw.withUnsafeBytes { src in
                    _ = memcpy(buffer.baseAddress!, src.baseAddress!, count * MemoryLayout<T>.size)
                }
                initialized = count
            }
        }
        if count == 0 {
            switch dtype {
            case .float32: return .float32([])
            case .uint8: return .uint8([])
            case .int8: return .int8([])
            case .int32: return .int32([])
            case .int64: return .int64([])
            }
        }
        switch dtype {  // ONNX raw_data is little-endian, as is every platform Octet targets.
        case .float32: return .float32(load(Float.self))
        case .uint8: return .uint8(load(UInt8.self))
        case .int8: return .int8(load(Int8.self))
        case .int32: return .int32(load(Int32.self))
        case .int64: return .int64(load(Int64.self))
        }
    }

    private static func externalBytes(_ proto: Onnx_TensorProto, baseDirectory: URL?) throws(ONNXError) -> Data {
        let name = proto.name
        var entries: [String: String] = [:]
        for e in proto.externalData { entries[e.key] = e.value }
        guard let location = entries["location"], !location.isEmpty else {
            throw .externalData(tensor: name, reason: "has no 'location'")
        }
        guard let base = baseDirectory else {
            throw .externalData(tensor: name, reason: "'\(location)' cannot be resolved for a model loaded from memory")
        }
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw .externalData(tensor: name, reason: "location '\(location)' must stay inside the model's folder")
        }
        let url = base.appendingPathComponent(location)
        let offset = Int(entries["offset"] ?? "0") ?? -1
        let length = entries["length"].map { Int($0) ?? -1 }
        guard offset >= 0, (length ?? 0) >= 0 else {
            throw .externalData(tensor: name, reason: "has an invalid offset or length")
        }
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw .externalData(tensor: name, reason: "file '\(url.path)' cannot be opened")
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(offset))
            let bytes: Data?
            if let length { bytes = try handle.read(upToCount: length) } else { bytes = try handle.readToEnd() }
            let data = bytes ?? Data()
            if let length, data.count != length {
                throw ONNXError.externalData(tensor: name, reason: "file '\(location)' ends after \(data.count) of \(length) bytes at offset \(offset)")
            }
            return data
        } catch let e as ONNXError {
            throw e
        } catch {
            throw .externalData(tensor: name, reason: "reading '\(location)' failed: \(error)")
        }
    }

    /// Encodes `tensor` with raw_data, as exporters conventionally do.
    static func proto(name: String, tensor: Tensor) -> Onnx_TensorProto {
        var p = Onnx_TensorProto()
        p.name = name
        p.dims = tensor.shape.dims.map { Int64($0) }
        p.dataType = tensor.dtype.rawValue
        func bytes<T>(_ v: [T]) -> Data { v.withUnsafeBytes { Data($0) } }
        switch tensor.data {
        case .float32(let v): p.rawData = bytes(v)
        case .uint8(let v): p.rawData = bytes(v)
        case .int8(let v): p.rawData = bytes(v)
        case .int32(let v): p.rawData = bytes(v)
        case .int64(let v): p.rawData = bytes(v)
        }
        return p
    }
}
