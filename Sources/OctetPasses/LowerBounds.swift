import OctetIR

/// The least value of each tensor that the graph's structure proves, where it proves one.
///
/// 0 (non-negative: 256 unsigned levels over [0, T]) for the outputs of Relu, Clip with a
/// non-negative floor, Sigmoid and the other positive functions, comparisons, and products of
/// non-negative tensors. A small negative bound for the activations that dip below zero and
/// then rise: HardSwish −0.375, SiLU's x·Sigmoid(x) −0.2785, x·HardSigmoid(x), and HardSwish
/// as Paddle spells it, x·Clip(x + 3, 0, 6) / 6. Bounds carry through pooling, data movement,
/// Concat (the least), Add (the sum) and scaling by a positive constant.
///
/// A tensor bounded below by −B with threshold T is quantized over [−min(B, T), T] instead of
/// [−T, T] (`QuantParams.activation`): for HardSwish after a wide layer, nearly twice the
/// resolution. A lower bound that the structure does not prove (a BatchNormalization's output)
/// is not guessed from the calibration data, which unseen inputs may pass.
public enum LowerBounds {
    /// Tensor name → proven lower bound (≤ 0 for the activations above, 0 or more otherwise).
    public static func analyze(_ graph: Graph) -> [String: Double] {
        var bounds: [String: Double] = [:]
        let producers = graph.producers
        /// A tensor's bound, or a constant's least element.
        func bound(_ name: String) -> Double? {
            if let c = graph.initializers[name] { return c.data.doubles.min() }
            return bounds[name]
        }
        /// The node producing `value`, if any.
        func producer(_ value: String) -> Node? { producers[value].map { graph.nodes[$0] } }
        func scalar(_ name: String) -> Double? { scalarConstant(name, graph) }
        /// The least value of x·g(x) when `gate` is g(x), an element-wise function of `x` whose
        /// minimum has a closed form.
        func oneTensorProduct(_ x: String, _ gate: String) -> Double? {
            guard let g = producer(gate) else { return nil }
            switch g.op {
            case .unary(.sigmoid) where g.inputs[0] == x:
                return -0.2784645427610738  // x·σ(x) at x ≈ −1.2785
            case .unary(.hardSigmoid(let alpha, let beta)) where g.inputs[0] == x:
                // x·(αx + β) where 0 < αx + β < 1, least at x = −β/(2α) when 0 < β ≤ 1.
                let a = Double(alpha), b = Double(beta)
                return a > 0 && b > 0 && b <= 1 ? -b * b / (4 * a) : nil
            case .clip(let lo, let hi) where lo == 0 && hi > 0:
                // x·Clip(x + c, 0, h): x(x + c) on [−c, h − c], least at −c/2 if that is inside.
                guard let add = producer(g.inputs[0]), case .add = add.op, add.inputs.count == 2,
                      let i = add.inputs.firstIndex(of: x), let c = scalar(add.inputs[1 - i]), c > 0 else { return nil }
                let h = Double(hi)
                return h >= c / 2 ? -c * c / 4 : (h - c) * h
            default:
                return nil
            }
        }
        for node in graph.nodes {
            let ins = node.inputs.filter { !$0.isEmpty }
            let first = node.inputs.first.flatMap(bound)
            var b: Double?
            switch node.op {
            case .relu: b = 0
            case .clip(let lo, _): b = lo.isFinite ? Double(lo) : nil
            case .maxPool, .averagePool, .globalAveragePool, .flatten, .reshape, .identity, .dropout, .quantizeLinear, .dequantizeLinear,
                 .transpose, .slice, .split, .squeeze, .unsqueeze, .expand, .gather, .tile, .resize, .globalMaxPool, .cast:
                b = first
            case .add:
                let parts = ins.map(bound)
                b = parts.contains(nil) || parts.isEmpty ? nil : parts.reduce(0) { $0 + $1! }
            case .concat:
                let parts = ins.map(bound)
                b = parts.contains(nil) || parts.isEmpty ? nil : parts.map { $0! }.min()
            case .reduce(let kind, _, _):
                switch kind {
                case .l1, .l2, .sumSquare: b = 0
                case .mean, .max, .min: b = first
                case .sum, .prod: b = first.map { $0 >= 0 ? 0 : nil } ?? nil
                }
            case .unary(let f):
                switch f {
                case .sigmoid, .exp, .abs, .sqrt, .hardSigmoid, .softplus, .not: b = 0
                case .hardSwish: b = -0.375  // x·(x + 3)/6 at x = −1.5
                default: b = nil
                }
            case .binary(let f):
                if f.isComparison {
                    b = 0
                } else if f == .div, ins.count == 2, let k = scalar(ins[1]), k > 0, let l = bound(ins[0]) {
                    b = l / k
                }
            case .mul where ins.count == 2:
                let (l0, l1) = (bound(ins[0]), bound(ins[1]))
                if let k = scalar(ins[1]), k > 0, let l = l0 {
                    b = l * k
                } else if let k = scalar(ins[0]), k > 0, let l = l1 {
                    b = l * k
                } else if let l0, let l1, l0 >= 0, l1 >= 0 {
                    b = 0
                } else {
                    b = oneTensorProduct(ins[0], ins[1]) ?? oneTensorProduct(ins[1], ins[0])
                }
            default:
                b = nil
            }
            if let b, b.isFinite { bounds[node.outputs[0]] = b }
        }
        return bounds
    }

    /// Tensor name → a floor below which its value does not matter: every reader gives the same
    /// result for x and for max(x, floor). HardSwish and HardSigmoid(α, β) are constant below
    /// −3 and −β/α, Relu below 0, Clip below its lower bound; Paddle's HardSwish reads x through
    /// Add(x, c) → Clip(0, h) and through the product with that, both constant below −c.
    ///
    /// A convolution's output read only by its HardSwish so spends its 255 steps on [−3, T]
    /// instead of [−T, T] (the codes below −3 all meaning "the activation's 0"): exact, and for
    /// T ≈ 10 nearly twice the resolution where the activation is not flat.
    public static func readerFloors(_ graph: Graph) -> [String: Double] {
        let consumers = graph.consumers, producers = graph.producers
        func scalar(_ name: String) -> Double? { scalarConstant(name, graph) }
        /// The floor of `x` for one reader, or nil when the reader uses every value of x.
        func floor(_ x: String, reader i: Int) -> Double? {
            let node = graph.nodes[i]
            guard node.inputs.first == x || node.op == .mul else { return nil }
            switch node.op {
            case .relu: return 0
            case .clip(let lo, _): return lo.isFinite ? Double(lo) : nil
            case .unary(.hardSwish): return -3
            case .unary(.hardSigmoid(let alpha, let beta)): return alpha > 0 ? -Double(beta) / Double(alpha) : nil
            case .add:
                // x + c read only by Clip(lo, …) or Relu: constant below lo − c.
                guard node.inputs.count == 2, let c = scalar(node.inputs[1]),
                      let readers = consumers[node.outputs[0]], !readers.isEmpty else { return nil }
                let floors = readers.map { j -> Double? in
                    switch graph.nodes[j].op {
                    case .relu: 0
                    case .clip(let lo, _): lo.isFinite ? Double(lo) : nil
                    default: nil
                    }
                }
                guard !floors.contains(nil), let lo = floors.map({ $0! }).min() else { return nil }
                return lo - c
            case .mul:
                // x · Clip(x + c, 0, h): 0 for every x below −c.
                guard node.inputs.count == 2, let k = node.inputs.firstIndex(of: x),
                      let g = producers[node.inputs[1 - k]].map({ graph.nodes[$0] }),
                      case .clip(let lo, _) = g.op, lo == 0,
                      let add = producers[g.inputs[0]].map({ graph.nodes[$0] }), case .add = add.op,
                      add.inputs.count == 2, add.inputs[0] == x, let c = scalar(add.inputs[1]) else { return nil }
                return -c
            default:
                return nil
            }
        }
        return everyReader(graph, consumers, floor, combined: { $0.min() })
    }

    /// Tensor name → a ceiling above which its value does not matter: every reader gives the same
    /// result for x and for min(x, ceiling). HardSigmoid(α, β) is 1 above (1 − β)/α, Clip is
    /// constant above its upper bound, and x + c read only by Clips above their upper bound less
    /// c. The threshold of such a tensor needs no more than the ceiling (a squeeze-excitation's
    /// gate logits, read by HardSigmoid, nothing above 3).
    public static func readerCeilings(_ graph: Graph) -> [String: Double] {
        let consumers = graph.consumers
        /// The ceiling of `x` for one reader, or nil when the reader uses every value of x.
        func ceiling(_ x: String, reader i: Int) -> Double? {
            let node = graph.nodes[i]
            guard node.inputs.first == x else { return nil }
            switch node.op {
            case .clip(_, let hi): return hi.isFinite ? Double(hi) : nil
            case .unary(.hardSigmoid(let alpha, let beta)): return alpha > 0 ? (1 - Double(beta)) / Double(alpha) : nil
            case .add:
                // x + c read only by Clip(…, hi): constant above hi − c.
                guard node.inputs.count == 2, let c = scalarConstant(node.inputs[1], graph),
                      let readers = consumers[node.outputs[0]], !readers.isEmpty else { return nil }
                let his = readers.map { j -> Double? in
                    if case .clip(_, let hi) = graph.nodes[j].op, graph.nodes[j].inputs.first == node.outputs[0], hi.isFinite { return Double(hi) }
                    return nil
                }
                guard !his.contains(nil), let hi = his.map({ $0! }).max() else { return nil }
                return hi - c
            default:
                return nil
            }
        }
        return everyReader(graph, consumers, ceiling, combined: { $0.max() })
    }

    /// Per value that is neither a constant nor a graph output: `limit` for each of its readers,
    /// `combined` when every reader has one (a finite result), else no entry.
    static func everyReader(_ graph: Graph, _ consumers: [String: [Int]], _ limit: (String, Int) -> Double?,
                            combined: ([Double]) -> Double?) -> [String: Double] {
        var limits: [String: Double] = [:]
        let outputs = Set(graph.outputs.map(\.name))
        for (value, readers) in consumers where graph.initializers[value] == nil && !outputs.contains(value) {
            let each = readers.compactMap { limit(value, $0) }
            if !readers.isEmpty, each.count == readers.count, let l = combined(each), l.isFinite { limits[value] = l }
        }
        return limits
    }

    /// A one-element constant's value.
    static func scalarConstant(_ name: String, _ graph: Graph) -> Double? {
        guard let c = graph.initializers[name], c.shape.elementCount == 1 else { return nil }
        return c.data.doubles.first
    }
}
