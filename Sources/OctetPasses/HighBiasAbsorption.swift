import OctetCore
import OctetIR

/// High-bias absorption (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization
/// and Bias Correction", §4.1.2). For A → Relu → B, when A's output channel i is at least c_i ≥ 0
/// on every input, Relu(x) = Relu(x − c_i) + c_i, so c_i can leave A's bias and enter B's through
/// B's weights: b_A[i] −= c_i, b_B[o] += Σ_taps W_B[o, i, taps]·c_i. The activation between them
/// then spans a range c_i narrower, which its 8-bit grid spends on the values that occur (cross-
/// layer equalization inflates such biases). The paper takes c_i = max(0, β − 3γ) from the
/// BatchNormalization before A's Relu, accepting that the few values below it change; the caller
/// chooses the amounts (the pipeline measures the same bound on calibration data).
///
/// The shift through B is exact only when B reads no padding (a padded tap would see 0 where the
/// shifted activation means −c_i), so B must have zero pads; in MobileNetV2 that is each block's
/// depthwise → project pair.
public enum HighBiasAbsorption {
    /// The convolutions A whose bias can be absorbed: A → Relu → B with A feeding only the Relu,
    /// the Relu only B, and B unpadded; with the value to measure (A's output, before the Relu).
    public static func candidates(_ g: Graph) -> [(node: String, output: String)] {
        pairs(g).map { (g.nodes[$0.a].name, g.nodes[$0.a].outputs[0]) }
    }

    static func pairs(_ g: Graph) -> [CrossLayerEqualization.Pair] {
        CrossLayerEqualization.pairs(g, unclipped: []).filter { p in
            guard let act = p.activation, case .relu = g.nodes[act].op, case .conv(let window, _) = g.nodes[p.b].op else { return false }
            return window.pads.allSatisfy { $0 == 0 }
        }
    }

    /// `g` with `amounts[A]` (one value ≥ 0 per output channel of A, named by node) moved from
    /// each candidate A's bias into its B's. Negative, non-finite or mis-sized amounts are
    /// ignored channel by channel (nothing moves).
    public static func apply(_ g: Graph, amounts: [String: [Float]]) -> Graph {
        var g = g
        var changed = false
        for p in pairs(g) {
            let a = g.nodes[p.a], b = g.nodes[p.b]
            guard let c = amounts[a.name], c.count == p.channels, c.contains(where: { $0 > 0 && $0.isFinite }),
                  let w2 = g.initializers[b.inputs[1]]?.floats else { continue }
            func bias(_ n: Node, count: Int) -> [Float]? {
                guard n.inputs.count > 2, !n.inputs[2].isEmpty else { return [Float](repeating: 0, count: count) }
                guard let v = g.initializers[n.inputs[2]]?.floats, v.count == count else { return nil }
                return v
            }
            guard var b1 = bias(a, count: p.channels), var b2 = bias(b, count: p.bOut) else { continue }
            let perOut = p.bInPerGroup * p.bTaps
            for i in 0..<p.channels where c[i] > 0 && c[i].isFinite {
                b1[i] -= c[i]
                for k in p.inputSlice(i) { b2[k / perOut] += w2[k] * c[i] }
            }
            for (index, values) in [(p.a, b1), (p.b, b2)] {
                let name = FoldBatchNormIntoConv.uniqueName(g.nodes[index].name + "_absorbed_b", in: g)
                g.initializers[name] = Tensor(computed: [values.count], floats: values)
                if g.nodes[index].inputs.count > 2 { g.nodes[index].inputs[2] = name } else { g.nodes[index].inputs.append(name) }
            }
            changed = true
        }
        return changed ? EliminateDeadNodes.apply(g) : g
    }
}
