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

extension ValueInfo {
    /// Throws unless `shape` fits: the same rank, and equal wherever a dimension is fixed.
    public func check(_ shape: Shape) throws(GraphError) {
        guard shape.rank == dims.count, zip(shape.dims, dims).allSatisfy({ $1 == nil || $0 == $1 }) else {
            throw .inputShape(input: name, expected: dimsDescription, got: shape)
        }
    }

    /// `[N,3,?,?]`: fixed dimensions as numbers, the first symbolic one as N, the others as ?.
    public var dimsDescription: String {
        "[" + dims.enumerated().map { i, d in d.map(String.init) ?? (i == 0 ? "N" : "?") }.joined(separator: ",") + "]"
    }

    /// Whether a dimension other than the first (the batch) is symbolic.
    public var hasSymbolicNonBatchDimension: Bool { dims.dropFirst().contains { $0 == nil } }
}
