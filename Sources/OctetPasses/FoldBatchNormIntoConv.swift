import OctetCore
import OctetIR

/// Folds an inference-mode BatchNormalization into the Conv that feeds it.
///
///     y = Conv(x, W, B); z = BN(y, γ, β, μ, σ²)   ⇒   z = Conv(x, W', B')
///     s[o] = γ[o] / sqrt(σ²[o] + ε),  W'[o,…] = W[o,…]·s[o],  B'[o] = (B[o] − μ[o])·s[o] + β[o]
///
/// Applies only when the Conv's output feeds nothing else and all parameters are constants.
/// Arithmetic is done in Double and rounded once to Float.
public enum FoldBatchNormIntoConv {
    public static let pass = Pass("FoldBatchNormIntoConv") { (g: Graph) throws(GraphError) -> Graph in apply(g) }

    public static func apply(_ graph: Graph) -> Graph {
        var g = graph
        let outputs = Set(g.outputs.map(\.name))
        var removed = Set<Int>()
        let producers = g.producers
        let consumers = g.consumers
        for (bnIndex, bn) in g.nodes.enumerated() {
            guard case .batchNormalization(let eps) = bn.op,
                  let convIndex = producers[bn.inputs[0]], !removed.contains(convIndex),
                  case .conv = g.nodes[convIndex].op,
                  consumers[bn.inputs[0]]?.count == 1, !outputs.contains(bn.inputs[0]) else { continue }
            let conv = g.nodes[convIndex]
            let params = bn.inputs[1...4].map { g.initializers[$0]?.floats }
            guard let weight = g.initializers[conv.inputs[1]], let w = weight.floats,
                  let gamma = params[0], let beta = params[1], let mean = params[2], let variance = params[3] else { continue }
            let outChannels = weight.shape[0]
            guard gamma.count == outChannels else { continue }
            let oldBias: [Float]
            if conv.inputs.count > 2, !conv.inputs[2].isEmpty {
                guard let b = g.initializers[conv.inputs[2]]?.floats, b.count == outChannels else { continue }
                oldBias = b
            } else {
                oldBias = [Float](repeating: 0, count: outChannels)
            }
            let perChannel = w.count / max(outChannels, 1)
            var newW = w
            var newB = [Float](repeating: 0, count: outChannels)
            for o in 0..<outChannels {
                let s = Double(gamma[o]) / (Double(variance[o]) + Double(eps)).squareRoot()
                for j in 0..<perChannel { newW[o * perChannel + j] = Float(Double(w[o * perChannel + j]) * s) }
                newB[o] = Float((Double(oldBias[o]) - Double(mean[o])) * s + Double(beta[o]))
            }
            let wName = uniqueName(conv.name + "_folded_W", in: g), bName = uniqueName(conv.name + "_folded_B", in: g)
            g.initializers[wName] = Tensor(computed: weight.shape, floats: newW)
            g.initializers[bName] = Tensor(computed: [outChannels], floats: newB)
            g.nodes[convIndex].inputs = [conv.inputs[0], wName, bName]
            g.nodes[convIndex].outputs = [bn.outputs[0]]
            removed.insert(bnIndex)
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return EliminateDeadNodes.apply(g)
    }

    static func uniqueName(_ base: String, in g: Graph) -> String {
        var name = base, i = 1
        while g.initializers[name] != nil { name = "\(base)_\(i)"; i += 1 }
        return name
    }
}
