import OctetCore
import OctetIR

/// A dimension of a value as a function of one symbolic input dimension: a number, an exact
/// affine function `symbol · numerator / denominator + offset`, or unknown (it follows no such
/// function of a single symbol, e.g. H·W after a Flatten).
public enum SymbolicDim: Hashable, Sendable, CustomStringConvertible {
    case known(Int)
    case affine(symbol: String, numerator: Int, denominator: Int, offset: Int)
    case unknown

    /// `3`, `H`, `H/4`, `2W`, `W/8+1`, `?`.
    public var description: String {
        switch self {
        case .known(let v): return "\(v)"
        case .unknown: return "?"
        case .affine(let s, let p, let q, let b):
            var t = p == 1 ? s : "\(p)\(s)"
            if q != 1 { t += "/\(q)" }
            if b > 0 { t += "+\(b)" } else if b < 0 { t += "\(b)" }
            return t
        }
    }
}

/// Shapes that keep the symbols of a model's inputs (`N`, `H`, `W`, …), for a model whose
/// height or width is symbolic. There is one set of shape rules (`Graph.inferShapes`, with the
/// shape arithmetic folded by `SpecializeShapes`): it is evaluated at a base size and, one
/// symbol at a time, at two other sizes, and each dimension is reported as the exact affine
/// function of the one symbol it follows, confirmed at the third size (`?` when none fits).
/// Sizes are multiples of 64 (320, 384, 448; a batch of 1, 2, 3), so the strides of detectors
/// and OCR models divide them and floors and ceilings agree.
public struct SymbolicShapes: Sendable {
    /// Each value's dims, by name.
    public let shapes: [String: [SymbolicDim]]
    /// The concrete input shapes of the base size, and every value's shape there.
    public let baseInputs: [String: Shape]
    public let baseShapes: [String: Shape]

    static let spatial = [320, 384, 448], batch = [1, 2, 3]

    /// Nil when the shape rules fail at the base size (the model cannot take it).
    public init?(_ graph: Graph, fixed: [String: Shape] = [:]) {
        let inputs = graph.inputs.filter { graph.initializers[$0.name] == nil }
        // Every symbolic input dimension not fixed by the caller, with its name and sizes.
        var symbols: [(input: String, axis: Int, name: String, sizes: [Int])] = []
        for i in inputs where fixed[i.name] == nil {
            for (axis, d) in i.dims.enumerated() where d == nil {
                let name: String
                if axis == 0 { name = "N" }
                else if inputs.count == 1, i.dims.count == 4, axis >= 2 { name = axis == 2 ? "H" : "W" }
                else { name = inputs.count == 1 ? "d\(axis)" : "\(i.name).d\(axis)" }
                symbols.append((i.name, axis, name, axis == 0 ? Self.batch : Self.spatial))
            }
        }
        func inputShapes(_ choice: [Int]) -> [String: Shape] {
            var out = fixed
            for i in inputs where fixed[i.name] == nil { out[i.name] = Shape(i.dims.map { $0 ?? 0 }) }
            for (k, s) in symbols.enumerated() { out[s.input]?[s.axis] = s.sizes[choice[k]] }
            return out
        }
        func shapesAt(_ choice: [Int]) -> [String: Shape]? { try? SpecializeShapes.apply(graph, inputShapes: inputShapes(choice)).shapes }
        let base = Array(repeating: 0, count: symbols.count)
        guard let at0 = shapesAt(base) else { return nil }
        // For each symbol, the shapes at its second and third sizes (the others at base).
        let varied: [(second: [String: Shape]?, third: [String: Shape]?)] = symbols.indices.map { k in
            var b = base, c = base
            b[k] = 1; c[k] = 2
            return (shapesAt(b), shapesAt(c))
        }
        var out: [String: [SymbolicDim]] = [:]
        for (name, s0) in at0 {
            out[name] = s0.dims.indices.map { axis in
                let d0 = s0[axis]
                var dim = SymbolicDim.known(d0)
                for (k, v) in varied.enumerated() {
                    guard let s1 = v.second?[name], let s2 = v.third?[name], s1.rank == s0.rank, s2.rank == s0.rank else { return .unknown }
                    let d1 = s1[axis], d2 = s2[axis]
                    if d1 == d0 && d2 == d0 { continue }
                    // Changes with a second symbol too: not a function of one.
                    guard case .known = dim else { return .unknown }
                    let sz = symbols[k].sizes
                    guard let f = Self.affine(d0, d1, d2, sizes: sz) else { return .unknown }
                    dim = .affine(symbol: symbols[k].name, numerator: f.p, denominator: f.q, offset: f.b)
                }
                return dim
            }
        }
        shapes = out
        baseInputs = inputShapes(base)
        baseShapes = at0
    }

    /// d = s·p/q + b through (sizes[0], d0), (sizes[1], d1), and exactly at (sizes[2], d2).
    static func affine(_ d0: Int, _ d1: Int, _ d2: Int, sizes: [Int]) -> (p: Int, q: Int, b: Int)? {
        var p = d1 - d0, q = sizes[1] - sizes[0]
        let g = gcd(abs(p), q)
        p /= g; q /= g
        guard p != 0, (d0 * q - p * sizes[0]) % q == 0 else { return nil }
        let b = (d0 * q - p * sizes[0]) / q
        guard sizes[2] * p % q == 0, sizes[2] * p / q + b == d2 else { return nil }
        return (p, q, b)
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? max(a, 1) : gcd(b, a % b) }

    /// `[N, 1, H/4, W/4]`.
    public static func text(_ dims: [SymbolicDim]) -> String { "[" + dims.map(\.description).joined(separator: ", ") + "]" }
}
