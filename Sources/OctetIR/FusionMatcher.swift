import OctetCore

/// The graph patterns the compilers and the quantize pass fuse, matched in one place:
///
///     conv → [add] → [relu | clip] → [quantize]
///
/// A node fuses with the next only when the next is its value's sole reader and the value is not
/// a graph output (so nothing else needs it materialized). The FP32 compiler fuses the chain
/// into one convolution step, the INT8 compiler into one integer step ending in the
/// QuantizeLinear, and `InsertQuantizeDequantize` quantizes after the activation, not before.
public struct FusionMatcher {
    public let graph: Graph
    public let consumers: [String: [Int]]
    public let producers: [String: Int]
    public let outputs: Set<String>

    public init(_ graph: Graph) {
        self.graph = graph
        consumers = graph.consumers
        producers = graph.producers
        outputs = Set(graph.outputs.map(\.name))
    }

    /// The index of the node reading `value` when it is the only reader and `value` is not a
    /// graph output.
    public func soleReader(of value: String) -> Int? {
        guard !outputs.contains(value), let c = consumers[value], c.count == 1 else { return nil }
        return c[0]
    }

    /// The Relu or Clip that is `value`'s sole reader (and that `allowed` accepts).
    public func activation(after value: String, allowed: (Node) -> Bool = { _ in true }) -> Int? {
        guard let j = soleReader(of: value), graph.nodes[j].op.clampBounds != nil, allowed(graph.nodes[j]) else { return nil }
        return j
    }

    /// The index of the node producing `value` when `value` has no other reader than the one
    /// asking (it can be computed inside that reader's step).
    public func soleProducer(of value: String) -> Int? {
        guard let p = producers[value], consumers[value]?.count == 1 else { return nil }
        return p
    }

    /// The quantized op, and the Relu/Clip between it and the QuantizeLinear at `quantize`, that
    /// fuse into that QuantizeLinear: `op → [activation] → QuantizeLinear`, each value read only
    /// by the next. `fusible` says which ops have an integer step.
    public func quantizedPattern(endingAt quantize: Int, fusible: (Op) -> Bool) -> (op: Int, activation: Int?)? {
        let q = graph.nodes[quantize]
        guard case .quantizeLinear = q.op, var p = soleProducer(of: q.inputs[0]) else { return nil }
        var act: Int? = nil
        if graph.nodes[p].op.clampBounds != nil {
            guard let pp = soleProducer(of: graph.nodes[p].inputs[0]) else { return nil }
            act = p
            p = pp
        }
        return fusible(graph.nodes[p].op) ? (p, act) : nil
    }
}

extension FusionMatcher {
    /// ShuffleNet's channel shuffle as exporters write it, starting at the Reshape `index`:
    ///
    ///     Reshape [N, C, H, W] → [N, g, C/g, H, W] → Transpose perm [0, 2, 1, 3, 4] → Reshape [N, C, H, W]
    ///
    /// each intermediate value read only by the next node. Output channel j·g + i is input channel
    /// i·(C/g) + j, a per-pixel permutation. `shapes` are the values' concrete shapes.
    public func channelShuffle(at index: Int, shapes: [String: Shape]) -> (transpose: Int, reshape: Int, groups: Int)? {
        let first = graph.nodes[index]
        guard case .reshape = first.op, let x = shapes[first.inputs[0]], x.rank == 4,
              let split = shapes[first.outputs[0]], split.rank == 5,
              split[0] == x[0], split[1] * split[2] == x[1], split[3] == x[2], split[4] == x[3], split[1] > 1,
              let t = soleReader(of: first.outputs[0]), case .transpose(let perm) = graph.nodes[t].op, perm == [0, 2, 1, 3, 4],
              let r = soleReader(of: graph.nodes[t].outputs[0]), case .reshape = graph.nodes[r].op,
              shapes[graph.nodes[r].outputs[0]] == x else { return nil }
        return (t, r, split[1])
    }
}

extension FusionMatcher {
    /// Element-wise nodes that run as one pass over one value x, starting at node `index`:
    ///
    ///     x → Add(·, 3) → Clip(0, 6) → Mul(x, ·) → Div(·, 6)      (HardSwish as Paddle exports it)
    ///
    /// Each node is Add, Mul, Sub, Div, Max, Min, PRelu, Relu or Clip; the first reads x and a
    /// scalar constant (or is a Relu/Clip of x), each next one reads the previous value (as its
    /// sole reader, the value not a graph output) and a scalar constant or x. At least two nodes.
    public func elementwiseChain(at index: Int, isScalarConstant: (String) -> Bool) -> (input: String, nodes: [Int])? {
        func isElementwise(_ op: Op) -> Bool {
            switch op {
            case .add, .mul, .relu, .clip: true
            case .binary(let f): [.sub, .div, .max, .min, .prelu].contains(f)
            default: false
            }
        }
        let first = graph.nodes[index]
        guard isElementwise(first.op), !outputs.contains(first.outputs[0]) else { return nil }
        let x: String
        if first.op.clampBounds != nil {
            x = first.inputs[0]
        } else {
            guard first.inputs.count == 2 else { return nil }
            let constants = first.inputs.map(isScalarConstant)
            guard constants[0] != constants[1] else { return nil }
            x = constants[0] ? first.inputs[1] : first.inputs[0]
        }
        var nodes = [index]
        var value = first.outputs[0]
        while let j = soleReader(of: value), isElementwise(graph.nodes[j].op) {
            let node = graph.nodes[j]
            if node.op.clampBounds != nil {
                guard node.inputs[0] == value else { break }
            } else {
                guard node.inputs.count == 2, node.inputs.filter({ $0 == value }).count == 1 else { break }
                let other = node.inputs[0] == value ? node.inputs[1] : node.inputs[0]
                guard other == x || isScalarConstant(other) else { break }
            }
            nodes.append(j)
            value = node.outputs[0]
            if outputs.contains(value) { break }
        }
        return nodes.count >= 2 ? (x, nodes) : nil
    }
}

extension Op {
    /// The clamp a Relu or Clip applies (nil for other ops): the activations that fuse into a
    /// convolution's or an integer step's epilogue.
    public var clampBounds: (min: Float, max: Float)? {
        switch self {
        case .relu: (0, .infinity)
        case .clip(let lo, let hi): (lo, hi)
        default: nil
        }
    }
}
