import OctetCore

/// A graph input or output: name, element type and shape, where `nil` marks a symbolic
/// dimension (typically the batch size).
public struct ValueInfo: Hashable, Sendable {
    public var name: String
    public var dtype: DType
    public var dims: [Int?]

    public init(name: String, dtype: DType = .float32, dims: [Int?]) {
        self.name = name
        self.dtype = dtype
        self.dims = dims
    }

    /// The shape with symbolic dimensions replaced by `batch`.
    public func concreteShape(batch: Int) -> Shape {
        Shape(dims.map { $0 ?? batch })
    }
}
