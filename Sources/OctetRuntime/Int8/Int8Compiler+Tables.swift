import OctetCore
import OctetIR

/// Element-wise functions of one quantized tensor as 256-entry tables.
///
///     xq → DQ → HardSwish → Q → yq      ⇒   yq[i] = table[xq[i]]
///     xq → DQ → (x · Sigmoid(x)) → Q    ⇒   one table (SiLU)
///     xq → DQ → x · Clip(x + 3, 0, 6) / 6 → Q   ⇒   one table (a HardSwish spelled out)
///
/// A float island qualifies when it reads one dequantized u8 tensor, every node is element-wise
/// over that tensor's shape (its other operands scalar constants, per-channel constants
/// `[C, 1, 1]` of an NCHW tensor or `[C]` of an `[N, C]` one, or values of the island), and its one result is read only by
/// one QuantizeLinear. With per-channel constants (PRelu's slopes) there is one table per channel.
///
///     xq → DQ → PRelu(·, slope[C]) → Q   ⇒   yq[p, c] = table[c][xq[p, c]] Each entry is
/// `quantize(f(dequantize(code)))` with f evaluated by the operators' reference semantics
/// (`ConstantEvaluator`, what constant folding computes): the table is that reference, exactly.
extension Int8Compiler {
    /// Lowers island `nodes` (graph indices `indices`) to a table step if it qualifies; returns
    /// whether it did. The QuantizeLinear it absorbs is added to `loweredAhead`.
    mutating func lowerAsTable(_ indices: [Int], inputs: [String], outputs: [String]) throws(RuntimeError) -> Bool {
        guard inputs.count == 1, outputs.count == 1, let x = quantized(inputs[0]), let xShape = shapes[inputs[0]],
              !graph.outputs.contains(where: { $0.name == outputs[0] }),
              let readers = consumers[outputs[0]], readers.count == 1,
              case .quantizeLinear = graph.nodes[readers[0]].op else { return false }
        let q = graph.nodes[readers[0]]
        let nodes = indices.map { graph.nodes[$0] }
        let produced = Set(nodes.flatMap(\.outputs))
        let channels = xShape.rank == 4 || xShape.rank == 2 ? xShape[1] : 1
        var perChannel = false
        for node in nodes {
            switch node.op {
            case .unary, .relu, .clip, .add, .mul, .binary: break
            default: return false
            }
            guard node.outputs.count == 1, shapes[node.outputs[0]] == xShape else { return false }
            for v in node.inputs where !v.isEmpty && v != inputs[0] && !produced.contains(v) {
                guard let t = graph.initializers[v], t.floats != nil else { return false }
                if t.shape.elementCount == 1 { continue }
                // One value per channel of an NCHW tensor ([C, 1, 1] or [1, C, 1, 1]) or of the rows of
                // an [N, C] one ([C] or [1, C]).
                let d = t.shape.dims
                let nchw = xShape.rank == 4 && d.count >= 3 && Array(d.suffix(3)) == [channels, 1, 1] && d.dropLast(3).allSatisfy { $0 == 1 }
                let rows = xShape.rank == 2 && d.last == channels && d.dropLast().allSatisfy { $0 == 1 }
                guard nchw || rows else { return false }
                perChannel = true
            }
        }
        // The 256 real values of the codes through the island's nodes, once per channel when a
        // constant has a value per channel (that channel's value as a scalar).
        let codes = Shape([256])
        // The output codes per tensor, or per channel (NNCF's depthwise inputs: one table per channel).
        let out = try channelOutputSpec(q, nil)
        let outPerChannel = out.scales.count > 1
        guard !outPerChannel || (out.scales.count == channels && xShape.rank == 4) else { return false }
        var table: [UInt8] = []
        var real: [Float]? = nil
        for c in 0..<(perChannel || outPerChannel ? channels : 1) {
            let py = QuantParams(scale: out.scales[outPerChannel ? c : 0], zeroPoint: out.params.zeroPoint, dtype: .uint8)
            if !perChannel, let real {
                table += real.map(py.quantize)
                continue
            }
            var values: [String: Tensor] = [:]
            do {
                values[inputs[0]] = try Tensor(shape: codes, floats: (0..<256).map { Float(Int32($0) - x.params.zeroPoint) * x.params.scale })
            } catch { return false }
            for node in nodes {
                let operands = node.inputs.map { v -> Tensor? in
                    guard !v.isEmpty else { return nil }
                    if let t = values[v] { return t }
                    guard let t = graph.initializers[v] else { return nil }
                    guard t.shape.elementCount > 1, let f = t.floats else { return t }
                    return Tensor.filled([], f[c])
                }
                guard let result = ConstantEvaluator.evaluate(node, inputs: operands, inputShapes: operands.map { $0?.shape ?? Shape([]) },
                                                              outputShapes: [codes]),
                      result.count == 1, result[0].shape.elementCount == 256 else { return false }
                values[node.outputs[0]] = result[0]
            }
            guard let y = values[outputs[0]]?.floats else { return false }
            real = y
            table += y.map(py.quantize)
        }
        loweredAhead.insert(readers[0])
        let output = (name: q.outputs[0], params: out.params, scales: outPerChannel ? out.scales : nil)
        let codeTable = CodeTable(bytes: table, nodes: nodes, graph: graph, x: x.params, yScales: out.scales, y: out.params)
        if fuseTableIntoConvolution(codes: x.slot, dequantized: inputs[0], island: Set(indices), table: codeTable, output: output) {
            return true
        }
        let dst = outPerChannel ? newU8PerChannel(output.name, out.params, scales: out.scales) : newU8(output.name, out.params)
        let label = (table.count > 256 ? "channel tables: " : "table: ") + Self.opList(nodes) + (codeTable.computed != nil ? " (computed)" : "")
        steps.append(.lookup(src: x.slot, dst: dst, table: codeTable, label: label, fast: isa))
        return true
    }

    /// Fuses `table` (one, or one per output channel) into the convolution that writes the codes
    /// `codes` (its output then becomes the table's, applied to each block of rows as it is
    /// written), when those codes are read only by this table's island: their DequantizeLinear
    /// is their one reader, and the island reads all of its output. Returns whether it did.
    mutating func fuseTableIntoConvolution(codes: Int, dequantized: String, island: Set<Int>, table: CodeTable,
                                           output: (name: String, params: QuantParams, scales: [Float]?)) -> Bool {
        guard fuseIntoConvolutions, !aliasedSlots.contains(codes) else { return false }
        let graphOutputs = Set(graph.outputs.map(\.name))
        guard let j = steps.lastIndex(where: { $0.results.u8.contains(codes) }), case .conv(let c) = steps[j], c.table == nil,
              table.channels == 1 || table.channels == c.outC,
              case .quantized(let slot, let m, let zp, let lo, let hi) = c.output, slot == codes,
              c.fast.map({ $0.geometry.outPixelStride == $0.geometry.outChannels }) ?? true,
              let readers = consumers[dequantized], readers.allSatisfy(island.contains), !graphOutputs.contains(dequantized),
              let dq = producers[dequantized], let q = graph.nodes[dq].inputs.first,
              consumers[q]?.count == 1, !graphOutputs.contains(q) else { return false }
        fusedAway.insert(codes)
        let written = output.scales.map { newU8PerChannel(output.name, output.params, scales: $0) } ?? newU8(output.name, output.params)
        c.output = .quantized(slot: written, multipliers: m, zeroPoint: zp, lo: lo, hi: hi)
        c.table = table
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
