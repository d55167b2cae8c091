/// A dense tensor value: a shape and row-major elements. Used for weights, constants and
/// the inputs and outputs of a model run; the runtime keeps activations in its own arena.
public struct Tensor: Hashable, Sendable, CustomStringConvertible {
    public var shape: Shape
    public var data: TensorData

    /// Creates a tensor, checking that the element count matches the shape.
    public init(shape: Shape, data: TensorData) throws(TensorError) {
        guard shape.dims.allSatisfy({ $0 >= 0 }) else { throw .negativeDimension(shape) }
        guard shape.elementCount == data.count else {
            throw .elementCountMismatch(shape: shape, count: data.count)
        }
        self.shape = shape
        self.data = data
    }

    public init(shape: Shape, floats: [Float]) throws(TensorError) {
        try self.init(shape: shape, data: .float32(floats))
    }

    /// A float tensor of `shape` filled with `value`.
    public static func filled(_ shape: Shape, _ value: Float) -> Tensor {
        // The count matches by construction.
        Tensor(unchecked: shape, .float32(Array(repeating: value, count: shape.elementCount)))
    }

    /// A float tensor built by code that sized `values` from `shape` itself (rewrites, model
    /// builders); a mismatch is a programming error, not bad input.
    public init(computed shape: Shape, floats values: [Float]) {
        precondition(shape.elementCount == values.count, "internal: tensor of shape \(shape) given \(values.count) values")
        self.init(unchecked: shape, .float32(values))
    }

    init(unchecked shape: Shape, _ data: TensorData) {
        self.shape = shape
        self.data = data
    }

    public var dtype: DType { data.dtype }

    /// The elements as `[Float]` when the tensor is float32, else nil.
    public var floats: [Float]? {
        if case .float32(let v) = data { return v }
        return nil
    }

    public var description: String { "Tensor<\(dtype)>\(shape)" }
}

/// Why a tensor could not be built.
public enum TensorError: Error, Hashable, Sendable, CustomStringConvertible {
    case elementCountMismatch(shape: Shape, count: Int)
    case negativeDimension(Shape)

    public var description: String {
        switch self {
        case .elementCountMismatch(let shape, let count):
            "tensor of shape \(shape) needs \(shape.elementCount) elements but has \(count)"
        case .negativeDimension(let shape):
            "tensor shape \(shape) has a negative dimension"
        }
    }
}
