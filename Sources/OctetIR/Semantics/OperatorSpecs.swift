import OctetCore

extension TensorData {
    /// The elements as Ints (int64 extremes and out-of-range floats clamped), for shape constants.
    public var ints: [Int] {
        switch self {
        case .int64(let v): v.map { Int(clamping: $0) }
        case .int32(let v): v.map { Int($0) }
        case .uint8(let v): v.map { Int($0) }
        case .int8(let v): v.map { Int($0) }
        case .float32(let v): v.map { $0.isFinite ? Int(clamping: Int64(Swift.max(Swift.min(Double($0), 9e18), -9e18))) : ($0 > 0 ? Int.max : Int.min) }
        }
    }
}

/// ONNX MatMul shapes (numpy matmul): rank-1 operands get a unit axis that is then dropped,
/// batch axes broadcast.
public struct MatMulShape: Hashable, Sendable {
    public var m: Int, k: Int, n: Int
    /// Broadcast batch dimensions of the result.
    public var batch: [Int]
    public var aBatch: [Int], bBatch: [Int]
    public var output: Shape

    public init?(_ a: Shape, _ b: Shape) {
        guard a.rank >= 1, b.rank >= 1 else { return nil }
        let ad = a.rank == 1 ? [1] + a.dims : a.dims
        let bd = b.rank == 1 ? b.dims + [1] : b.dims
        m = ad[ad.count - 2]; k = ad[ad.count - 1]; n = bd[bd.count - 1]
        guard bd[bd.count - 2] == k else { return nil }
        aBatch = Array(ad.dropLast(2)); bBatch = Array(bd.dropLast(2))
        guard let bs = Shape.broadcast(Shape(aBatch), Shape(bBatch)) else { return nil }
        batch = bs.dims
        var out = batch + [m, n]
        if b.rank == 1 { out.removeLast() }
        if a.rank == 1 { out.remove(at: out.count - (b.rank == 1 ? 1 : 2)) }
        output = Shape(out)
    }
}

/// Pad's pads and axes inputs (opset 11+; opset 18 adds axes) resolved to 2×rank pads.
public enum PadSpec {
    public static func resolve(node: Node, rank: Int, constant: (Int) -> Tensor?) throws(GraphError) -> [Int] {
        guard let raw = try Graph.ints(constant, 1, node) else { throw .notConstant(node: node.name, input: node.inputs[1]) }
        guard let axesRaw = try Graph.ints(constant, 3, node) else {
            guard raw.count == 2 * rank else { throw .shapeMismatch(node: node.name, detail: "Pad needs \(2 * rank) pads, got \(raw.count)") }
            return raw
        }
        guard raw.count == 2 * axesRaw.count else { throw .shapeMismatch(node: node.name, detail: "Pad pads \(raw) do not match axes \(axesRaw)") }
        var pads = [Int](repeating: 0, count: 2 * rank)
        for (i, a) in axesRaw.enumerated() {
            let k = try Graph.axis(a, rank: rank, node: node)
            pads[k] = raw[i]; pads[k + rank] = raw[i + axesRaw.count]
        }
        return pads
    }
}

/// Reduce axes from the optional axes input (opset 13+/18) or the attribute the importer turned into one.
public enum ReduceSpec {
    public static func axes(node: Node, rank: Int, noopWithEmptyAxes: Bool, constant: (Int) -> Tensor?) throws(GraphError) -> Set<Int> {
        let given = try Graph.ints(constant, 1, node) ?? []
        if given.isEmpty { return noopWithEmptyAxes ? [] : Set(0..<rank) }
        var out = Set<Int>()
        for a in given { out.insert(try Graph.axis(a, rank: rank, node: node)) }
        return out
    }
}

/// Range's element count: max(ceil((limit - start) / delta), 0).
public enum RangeSpec {
    public static func count(start: Tensor, limit: Tensor, delta: Tensor) -> Int? {
        guard let s = start.data.doubles.first, let l = limit.data.doubles.first, let d = delta.data.doubles.first, d != 0 else { return nil }
        return Swift.max(Int(((l - s) / d).rounded(.up)), 0)
    }
}

/// Resize's scales or sizes resolved against an input shape (ONNX Resize-11+: scales win
/// when both are given and non-empty; sizes give scale = out / in).
public enum ResizeSpec {
    public static func resolve(node: Node, input: Shape, attributes: ResizeAttributes,
                               constant: (Int) -> Tensor?) throws(GraphError) -> (output: Shape, scales: [Float]) {
        func fail(_ d: String) -> GraphError { .shapeMismatch(node: node.name, detail: d) }
        let rank = input.rank
        var scales: [Float]? = nil
        if node.inputs.count > 2, !node.inputs[2].isEmpty {
            guard let t = constant(2) else { throw .notConstant(node: node.name, input: node.inputs[2]) }
            if t.shape.elementCount > 0 { scales = t.data.doubles.map { Float($0) } }
        }
        if let scales {
            guard scales.count == rank, scales.allSatisfy({ $0 > 0 && $0.isFinite && $0 < 1e6 }) else { throw fail("Resize scales \(scales) do not fit \(input)") }
            let out = (0..<rank).map { Int((Float(input[$0]) * scales[$0]).rounded(.down)) }
            return (Shape(out), scales)
        }
        guard node.inputs.count > 3, !node.inputs[3].isEmpty else { throw fail("Resize needs scales or sizes") }
        guard let t = constant(3) else { throw .notConstant(node: node.name, input: node.inputs[3]) }
        let sizes = t.data.ints
        guard sizes.count == rank, sizes.allSatisfy({ $0 > 0 }), (0..<rank).allSatisfy({ input[$0] > 0 }) else {
            throw fail("Resize sizes \(sizes) do not fit \(input)")
        }
        return (Shape(sizes), (0..<rank).map { Float(sizes[$0]) / Float(input[$0]) })
    }
}

extension Graph {
    /// The dims a Shape node with `start`/`end` returns (negative values count from the end, clamped).
    public static func shapeRange(rank: Int, start: Int, end: Int?) -> Range<Int> {
        func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + rank : v, 0), rank) }
        let s = clamp(start), e = clamp(end ?? rank)
        return s..<Swift.max(s, e)
    }
}
