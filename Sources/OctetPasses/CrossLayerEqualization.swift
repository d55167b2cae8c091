import Foundation
import OctetCore
import OctetIR

/// Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight
/// Equalization and Bias Correction", §4.1). For two convolutions in a row, A → (Relu) → B,
/// dividing A's output channel i (weights and bias) by s_i > 0 and multiplying B's input channel i
/// by s_i leaves the function unchanged, since Relu(x / s) = Relu(x) / s. With
/// s_i = √(r1_i / r2_i), where r1_i is the largest |weight| of A's output channel i and r2_i that of
/// B's weights on input channel i, both become √(r1_i·r2_i): the channels of each layer get
/// similar ranges, so a per-tensor weight scale no longer spends its levels on one wide channel
/// while the narrow ones round to a few codes (depthwise-separable models suffer most).
///
/// A ReLU6 (Clip(0, m)) between the two is equalized through only when the caller names it in
/// `unclipped` (its input never reached m on the calibration samples): it then becomes Relu, the
/// same function on those samples (AIMET turns every ReLU6 into Relu, which changes the function
/// wherever an activation exceeds m: a first version of this pass that did so took the zoo's
/// random-weight MobileNetV2 from 13.4 to 7.4 dB). A chain's middle layer belongs to two pairs, so the pairs are equalized in turn until the
/// scales settle (at most `iterations` rounds). B may be grouped or depthwise; A's output must
/// feed only B (through the activation), and neither output may be a graph output.
public enum CrossLayerEqualization {
    public static func apply(_ graph: Graph, unclipped: Set<String> = [], iterations: Int = 20) -> Graph {
        var g = graph
        let pairs = Self.pairs(g, unclipped: unclipped)
        guard !pairs.isEmpty else { return graph }
        // Each layer's weights (and A's bias) as private copies: an initializer another node
        // shares keeps its values.
        var weights: [Int: [Float]] = [:], biases: [Int: [Float]] = [:]
        for p in pairs {
            for i in [p.a, p.b] where weights[i] == nil { weights[i] = g.initializers[g.nodes[i].inputs[1]]?.floats }
            if biases[p.a] == nil {
                let n = g.nodes[p.a]
                biases[p.a] = n.inputs.count > 2 && !n.inputs[2].isEmpty
                    ? g.initializers[n.inputs[2]]?.floats : [Float](repeating: 0, count: p.channels)
            }
        }
        for _ in 0..<iterations {
            var largestChange: Float = 0
            for p in pairs {
                guard var w1 = weights[p.a], var w2 = weights[p.b], var b1 = biases[p.a] else { continue }
                let per1 = w1.count / p.channels
                for c in 0..<p.channels {
                    let r1 = w1[(c * per1)..<((c + 1) * per1)].reduce(0) { max($0, abs($1)) }
                    let r2 = p.inputSlice(c).reduce(Float(0)) { max($0, abs(w2[$1])) }
                    guard r1 > 0, r2 > 0, r1.isFinite, r2.isFinite else { continue }
                    let s = (r1 / r2).squareRoot()
                    guard s.isNormal else { continue }
                    largestChange = max(largestChange, abs(log(s)))
                    for k in (c * per1)..<((c + 1) * per1) { w1[k] /= s }
                    b1[c] /= s
                    for k in p.inputSlice(c) { w2[k] *= s }
                }
                weights[p.a] = w1; weights[p.b] = w2; biases[p.a] = b1
            }
            if largestChange < 1e-4 { break }
        }
        for (i, w) in weights {
            let node = g.nodes[i]
            guard let shape = g.initializers[node.inputs[1]]?.shape else { continue }
            let name = FoldBatchNormIntoConv.uniqueName(node.name + "_equalized_w", in: g)
            g.initializers[name] = Tensor(computed: shape, floats: w)
            g.nodes[i].inputs[1] = name
        }
        for (i, b) in biases {
            let name = FoldBatchNormIntoConv.uniqueName(g.nodes[i].name + "_equalized_b", in: g)
            g.initializers[name] = Tensor(computed: [b.count], floats: b)
            if g.nodes[i].inputs.count > 2 { g.nodes[i].inputs[2] = name } else { g.nodes[i].inputs.append(name) }
        }
        for p in pairs {
            if let act = p.activation, case .clip = g.nodes[act].op { g.nodes[act].op = .relu; g.nodes[act].inputs = [g.nodes[act].inputs[0]] }
        }
        return EliminateDeadNodes.apply(g)
    }

    /// Two convolutions in a row: A (node index), the Relu/Clip between them if any, B, and where
    /// B's weights read A's output channel c.
    struct Pair {
        var a: Int, activation: Int?, b: Int
        var channels: Int
        /// B's weights [Cout, Cin/groups, kh, kw]: its groups and sizes.
        var bOut: Int, bInPerGroup: Int, bTaps: Int, bGroups: Int

        /// The flat indices of B's weights on input channel c.
        func inputSlice(_ c: Int) -> [Int] {
            let group = c / bInPerGroup, local = c % bInPerGroup, outPerGroup = bOut / bGroups
            var out: [Int] = []
            out.reserveCapacity(outPerGroup * bTaps)
            for o in (group * outPerGroup)..<((group + 1) * outPerGroup) {
                let base = (o * bInPerGroup + local) * bTaps
                out.append(contentsOf: base..<(base + bTaps))
            }
            return out
        }
    }

    /// The Clip(0, m) nodes between two convolutions, which `apply` equalizes through when their
    /// input never exceeds m (the caller measures them).
    public static func clipsBetweenConvolutions(_ g: Graph) -> [(node: String, input: String, max: Float)] {
        pairs(g, unclipped: nil).compactMap { p in
            guard let act = p.activation, case .clip(_, let m) = g.nodes[act].op else { return nil }
            return (g.nodes[act].name, g.nodes[act].inputs[0], m)
        }
    }

    /// nil `unclipped`: every Clip(0, m) qualifies (for `clipsBetweenConvolutions`).
    static func pairs(_ g: Graph, unclipped: Set<String>?) -> [Pair] {
        let consumers = g.consumers
        let outputs = Set(g.outputs.map(\.name))
        func onlyReader(_ value: String) -> Int? {
            guard !outputs.contains(value), let c = consumers[value], c.count == 1 else { return nil }
            return c[0]
        }
        var pairs: [Pair] = []
        for (ai, a) in g.nodes.enumerated() {
            guard case .conv = a.op, let w1 = g.initializers[a.inputs[1]], w1.floats != nil, w1.shape.rank == 4,
                  var next = onlyReader(a.outputs[0]) else { continue }
            if a.inputs.count > 2, !a.inputs[2].isEmpty, g.initializers[a.inputs[2]]?.floats == nil { continue }
            var activation: Int? = nil
            switch g.nodes[next].op {
            case .relu:
                activation = next
            case .clip(let lo, _) where lo == 0 && g.nodes[next].inputs.dropFirst().allSatisfy({ $0.isEmpty }):
                guard unclipped?.contains(g.nodes[next].name) ?? true else { continue }
                activation = next
            default: break
            }
            if let act = activation {
                guard let reader = onlyReader(g.nodes[act].outputs[0]) else { continue }
                next = reader
            }
            let b = g.nodes[next]
            guard case .conv(_, let groups) = b.op, b.inputs[0] == (activation.map { g.nodes[$0].outputs[0] } ?? a.outputs[0]),
                  let w2 = g.initializers[b.inputs[1]], w2.floats != nil, w2.shape.rank == 4 else { continue }
            let channels = w1.shape[0]
            guard groups >= 1, w2.shape[1] * groups == channels, w2.shape[0] % groups == 0 else { continue }
            pairs.append(Pair(a: ai, activation: activation, b: next, channels: channels, bOut: w2.shape[0], bInPerGroup: w2.shape[1],
                              bTaps: w2.shape[2] * w2.shape[3], bGroups: groups))
        }
        return pairs
    }
}
