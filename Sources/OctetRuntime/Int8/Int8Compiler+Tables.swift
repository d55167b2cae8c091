import OctetCore
import OctetIR

/// Element-wise functions of one quantized tensor as 256-entry tables.
///
///     xq → DQ → HardSwish → Q → yq      ⇒   yq[i] = table[xq[i]]
///     xq → DQ → (x · Sigmoid(x)) → Q    ⇒   one table (SiLU)
///     xq → DQ → x · Clip(x + 3, 0, 6) / 6 → Q   ⇒   one table (a HardSwish spelled out)
///
/// A float island qualifies when it reads one dequantized u8 tensor, every node is element-wise
/// over that tensor's shape (its other operands scalar constants or values of the island), and
/// its one result is read only by one QuantizeLinear. Each entry is
/// `quantize(f(dequantize(code)))` with f evaluated by the operators' reference semantics
/// (`ConstantEvaluator`, what constant folding computes): the table is that reference, exactly.
extension Int8Compiler {
    /// Lowers island `nodes` (graph indices `indices`) to a table step if it qualifies; returns
    /// whether it did. The QuantizeLinear it absorbs is added to `loweredAhead`.
    mutating func lowerAsTable(_ indices: [Int], inputs: [String], outputs: [String]) throws(RuntimeError) -> Bool {
        guard inputs.count == 1, outputs.count == 1, let x = quantized(inputs[0]), let xShape = shapes[inputs[0]],
              !graph.outputs.contains(where: { $0.name == outputs[0] }),
              let readers = graph.consumers[outputs[0]], readers.count == 1,
              case .quantizeLinear = graph.nodes[readers[0]].op else { return false }
        let q = graph.nodes[readers[0]]
        let nodes = indices.map { graph.nodes[$0] }
        let produced = Set(nodes.flatMap(\.outputs))
        for node in nodes {
            switch node.op {
            case .unary, .relu, .clip, .add, .mul, .binary: break
            default: return false
            }
            guard node.outputs.count == 1, shapes[node.outputs[0]] == xShape else { return false }
            for v in node.inputs where !v.isEmpty && v != inputs[0] && !produced.contains(v) {
                guard let t = graph.initializers[v], t.shape.elementCount == 1, t.floats != nil else { return false }
            }
        }
        // The 256 real values of the codes, through the island's nodes.
        let codes = Shape([256])
        var values: [String: Tensor] = [:]
        do {
            values[inputs[0]] = try Tensor(shape: codes, floats: (0..<256).map { Float(Int32($0) - x.params.zeroPoint) * x.params.scale })
        } catch { return false }
        for node in nodes {
            let operands = node.inputs.map { v -> Tensor? in v.isEmpty ? nil : values[v] ?? graph.initializers[v] }
            guard let result = ConstantEvaluator.evaluate(node, inputs: operands, inputShapes: operands.map { $0?.shape ?? Shape([]) },
                                                          outputShapes: [codes]),
                  result.count == 1, result[0].shape.elementCount == 256 else { return false }
            values[node.outputs[0]] = result[0]
        }
        guard let y = values[outputs[0]]?.floats else { return false }
        let (py, _, _) = try outputSpec(q, nil)
        steps.append(.lookup(src: x.slot, dst: newU8(q.outputs[0], py), table: y.map(py.quantize),
                             label: "table: " + Self.opList(nodes), fast: isa))
        loweredAhead.insert(readers[0])
        return true
    }

    /// "Sigmoid, Mul×2": the ops of `nodes` in order, repeated ones counted.
    static func opList(_ nodes: [Node]) -> String {
        var counts: [(String, Int)] = []
        for n in nodes {
            if let i = counts.firstIndex(where: { $0.0 == n.op.onnxType }) { counts[i].1 += 1 } else { counts.append((n.op.onnxType, 1)) }
        }
        return counts.map { $1 > 1 ? "\($0)×\($1)" : $0 }.joined(separator: ", ")
    }
}
