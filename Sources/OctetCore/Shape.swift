/// The logical dimensions of a tensor, outermost first (ONNX order: N, C, H, W for images).
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }
    public init(arrayLiteral elements: Int...) { self.dims = elements }

    public var rank: Int { dims.count }
    /// Number of elements; 1 for a scalar.
    public var elementCount: Int { dims.reduce(1, *) }
    public subscript(_ i: Int) -> Int {
        get { dims[i] }
        set { dims[i] = newValue }
    }
    /// Row-major strides in elements.
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: dims.count)
        var acc = 1
        for i in stride(from: dims.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= dims[i]
        }
        return s
    }
    public var description: String { "[" + dims.map(String.init).joined(separator: ",") + "]" }
}
