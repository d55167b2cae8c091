/// Element types a tensor can hold. Raw values are ONNX `TensorProto.DataType` codes,
/// so import and export map them one to one.
public enum DType: Int32, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case float32 = 1
    case uint8 = 2
    case int8 = 3
    case int32 = 6
    case int64 = 7

    /// Bytes one element occupies.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .uint8, .int8: 1
        case .int64: 8
        }
    }

    public var description: String {
        switch self {
        case .float32: "float32"
        case .uint8: "uint8"
        case .int8: "int8"
        case .int32: "int32"
        case .int64: "int64"
        }
    }
}
