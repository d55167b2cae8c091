/// Typed element storage of a `Tensor`, row-major in the tensor's logical shape.
public enum TensorData: Hashable, Sendable {
    case float32([Float])
    case uint8([UInt8])
    case int8([Int8])
    case int32([Int32])
    case int64([Int64])

    public var dtype: DType {
        switch self {
        case .float32: .float32
        case .uint8: .uint8
        case .int8: .int8
        case .int32: .int32
        case .int64: .int64
        }
    }

    public var count: Int {
        switch self {
        case .float32(let v): v.count
        case .uint8(let v): v.count
        case .int8(let v): v.count
        case .int32(let v): v.count
        case .int64(let v): v.count
        }
    }

    /// The elements converted to Double, whatever their type (for shape constants, clip bounds).
    public var doubles: [Double] {
        switch self {
        case .float32(let v): v.map(Double.init)
        case .uint8(let v): v.map(Double.init)
        case .int8(let v): v.map(Double.init)
        case .int32(let v): v.map(Double.init)
        case .int64(let v): v.map(Double.init)
        }
    }
}
