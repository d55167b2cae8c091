import OctetCore
import OctetIR

/// Folds an inference-mode BatchNormalization into the Conv before it when that Conv's weights
/// are int8 codes with zero point 0 (a QDQ file whose tool left the BatchNormalization in place,
/// as NNCF's ONNX output does), so the INT8 plan runs the pair as one integer convolution.
///
///     y = Conv(x, DQ(Wq, sw), B); z = BN(y, γ, β, μ, σ²)   ⇒   z = Conv(x, DQ(Wq', sw'), B')
///     k[o] = γ[o] / sqrt(σ²[o] + ε) (`FoldBatchNormIntoConv.parameters`),
///     sw'[o] = sw[o]·|k[o]|,  Wq'[o,…] = Wq[o,…]·sign(k[o]),  B'[o] = (B[o] − μ[o])·k[o] + β[o]
///
/// The codes are unchanged (negated for a negative k), so the folded weights are the file's
/// weights times k up to the rounding of the new scale. Applies only when the Conv's output feeds
/// nothing else, every parameter is a constant, the weights are per output channel or per
/// tensor along axis 0, and no negated code would leave int8 (a −128 under a negative k).
public enum FoldBatchNormIntoQuantizedConv {
    public static let pass = Pass("FoldBatchNormIntoQuantizedConv") { (g: Graph) throws(GraphError) -> Graph in apply(g) }

    public static func apply(_ graph: Graph) -> Graph {
        var g = graph
        let outputs = Set(g.outputs.map(\.name))
        var removed = Set<Int>()
        var weightsBefore: [Int: Node] = [:]   // the new DequantizeLinear, placed before its Conv
        let producers = g.producers
        let consumers = g.consumers
        for (bnIndex, bn) in g.nodes.enumerated() {
            guard case .batchNormalization = bn.op, let convIndex = producers[bn.inputs[0]], !removed.contains(convIndex),
                  case .conv = g.nodes[convIndex].op, consumers[bn.inputs[0]]?.count == 1, !outputs.contains(bn.inputs[0]) else { continue }
            let conv = g.nodes[convIndex]
            guard conv.inputs.count > 1, let dqIndex = producers[conv.inputs[1]], case .dequantizeLinear(let axis) = g.nodes[dqIndex].op else { continue }
            let dq = g.nodes[dqIndex]
            guard let codes = g.initializers[dq.inputs[0]], case .int8(let wq) = codes.data, codes.shape.rank >= 3,
                  let scales = dq.inputs.count > 1 ? g.initializers[dq.inputs[1]]?.floats : nil,
                  dq.inputs.count < 3 || dq.inputs[2].isEmpty || g.initializers[dq.inputs[2]]?.data.doubles.allSatisfy({ $0 == 0 }) == true
            else { continue }
            let outChannels = codes.shape[0]
            guard scales.count == 1 || (scales.count == outChannels && (axis == 0 || axis == -codes.shape.rank)),
                  let bnParams = FoldBatchNormIntoConv.parameters(bn, g, channels: outChannels) else { continue }
            let k = bnParams.scale
            let inner = codes.shape.elementCount / max(outChannels, 1)
            // A negated −128 leaves int8.
            guard !(0..<outChannels).contains(where: { o in k[o] < 0 && wq[(o * inner)..<((o + 1) * inner)].contains(-128) }) else { continue }
            let oldBias: [Double]
            if conv.inputs.count > 2, !conv.inputs[2].isEmpty {
                guard let b = realConstant(conv.inputs[2], g, producers: producers), b.count == outChannels else { continue }
                oldBias = b
            } else {
                oldBias = [Double](repeating: 0, count: outChannels)
            }
            let newCodes = wq.indices.map { i in k[i / inner] < 0 ? -wq[i] : wq[i] }
            let newScales = (0..<outChannels).map { o in Float(Double(scales[scales.count == 1 ? 0 : o]) * abs(k[o])) }
            guard newScales.allSatisfy({ $0.isFinite && $0 > 0 }) else { continue }
            let newBias = (0..<outChannels).map { o in Float((oldBias[o] - bnParams.mean[o]) * k[o] + bnParams.beta[o]) }
            let base = conv.name + "_bn_folded"
            let wName = FoldBatchNormIntoConv.uniqueName(base + "_Wq", in: g)
            guard let folded = try? Tensor(shape: codes.shape, data: .int8(newCodes)) else { continue }
            g.initializers[wName] = folded
            let sName = FoldBatchNormIntoConv.uniqueName(base + "_scale", in: g)
            g.initializers[sName] = Tensor(computed: [outChannels], floats: newScales)
            let bName = FoldBatchNormIntoConv.uniqueName(base + "_B", in: g)
            g.initializers[bName] = Tensor(computed: [outChannels], floats: newBias)
            let dqOut = FoldBatchNormIntoConv.uniqueName(base + "_W", in: g)
            weightsBefore[convIndex] = Node(name: dqOut, op: .dequantizeLinear(axis: 0), inputs: [wName, sName], outputs: [dqOut])
            g.nodes[convIndex].inputs = [conv.inputs[0], dqOut, bName]
            g.nodes[convIndex].outputs = [bn.outputs[0]]
            removed.insert(bnIndex)
        }
        guard !removed.isEmpty else { return graph }
        g.nodes = g.nodes.enumerated().flatMap { i, node -> [Node] in
            removed.contains(i) ? [] : (weightsBefore[i].map { [$0] } ?? []) + [node]
        }
        // The old weight DequantizeLinear goes when nothing else reads it.
        return EliminateDeadNodes.apply(g)
    }

    /// The real values of a bias: a float constant, or the DequantizeLinear of int32 codes.
    static func realConstant(_ name: String, _ g: Graph, producers: [String: Int]) -> [Double]? {
        if let t = g.initializers[name], let f = t.floats { return f.map(Double.init) }
        guard let p = producers[name], case .dequantizeLinear = g.nodes[p].op, let q = g.initializers[g.nodes[p].inputs[0]],
              let s = g.nodes[p].inputs.count > 1 ? g.initializers[g.nodes[p].inputs[1]]?.floats : nil else { return nil }
        let zeros = g.nodes[p].inputs.count > 2 && !g.nodes[p].inputs[2].isEmpty ? g.initializers[g.nodes[p].inputs[2]]?.data.doubles : nil
        let codes = q.data.doubles
        guard s.count == 1 || s.count == codes.count, zeros == nil || zeros!.count == s.count else { return nil }
        return codes.indices.map { i in
            let c = s.count == 1 ? 0 : i
            return (codes[i] - (zeros?[c] ?? 0)) * Double(s[c])
        }
    }
}
