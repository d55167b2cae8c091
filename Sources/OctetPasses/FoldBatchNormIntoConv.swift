import OctetCore
import OctetIR

/// Folds an inference-mode BatchNormalization into the Conv or ConvTranspose that feeds it.
///
///     y = Conv(x, W, B); z = BN(y, γ, β, μ, σ²)   ⇒   z = Conv(x, W', B')
///     s[o] = γ[o] / sqrt(σ²[o] + ε),  W'[o,…] = W[o,…]·s[o],  B'[o] = (B[o] − μ[o])·s[o] + β[o]
///
/// (ConvTranspose's weights are `[Cin, Cout/group, kh, kw]`: output channel o of group g is
/// column o − g·Cout/group of the rows of that group.)
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
            guard case .batchNormalization = bn.op,
                  let convIndex = producers[bn.inputs[0]], !removed.contains(convIndex),
                  let outChannels = outputChannels(g.nodes[convIndex], g),
                  consumers[bn.inputs[0]]?.count == 1, !outputs.contains(bn.inputs[0]) else { continue }
            let conv = g.nodes[convIndex]
            guard let weight = g.initializers[conv.inputs[1]], let w = weight.floats,
                  let bnParams = parameters(bn, g, channels: outChannels) else { continue }
            let scales = bnParams.scale
            let oldBias: [Float]
            if conv.inputs.count > 2, !conv.inputs[2].isEmpty {
                guard let b = g.initializers[conv.inputs[2]]?.floats, b.count == outChannels else { continue }
                oldBias = b
            } else {
                oldBias = [Float](repeating: 0, count: outChannels)
            }
            var newW = w
            for i in w.indices { newW[i] = Float(Double(w[i]) * scales[outputChannel(ofWeight: i, conv, weight.shape)]) }
            let newB = (0..<outChannels).map { o in Float((Double(oldBias[o]) - bnParams.mean[o]) * scales[o] + bnParams.beta[o]) }
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

    /// A BatchNormalization's per-channel scale k = γ / sqrt(σ² + ε), mean μ and shift β (in
    /// Double), when its parameters are constants of `channels` values; the rule both folds use.
    static func parameters(_ bn: Node, _ g: Graph, channels: Int) -> (scale: [Double], mean: [Double], beta: [Double])? {
        guard case .batchNormalization(let eps) = bn.op, bn.inputs.count >= 5 else { return nil }
        let p = bn.inputs[1...4].map { g.initializers[$0]?.floats }
        guard let gamma = p[0], let beta = p[1], let mean = p[2], let variance = p[3],
              gamma.count == channels, beta.count == channels, mean.count == channels, variance.count == channels else { return nil }
        let scale = (0..<channels).map { o in Double(gamma[o]) / (Double(variance[o]) + Double(eps)).squareRoot() }
        return (scale, mean.map(Double.init), beta.map(Double.init))
    }

    /// The output channels of a Conv or ConvTranspose with constant float weights, else nil.
    static func outputChannels(_ node: Node, _ g: Graph) -> Int? {
        guard node.inputs.count > 1, let w = g.initializers[node.inputs[1]], w.floats != nil, w.shape.rank >= 3 else { return nil }
        switch node.op {
        case .conv: return w.shape[0]
        case .convTranspose(let a): return a.group > 0 && w.shape[0] % a.group == 0 ? w.shape[1] * a.group : nil
        default: return nil
        }
    }

    /// The output channel weight element `i` belongs to (`outputChannels`' layouts).
    static func outputChannel(ofWeight i: Int, _ node: Node, _ shape: Shape) -> Int {
        let inner = shape.dims[2...].reduce(1, *)
        switch node.op {
        case .convTranspose(let a):
            let row = i / (shape[1] * inner), column = (i / inner) % shape[1]
            return (row / (shape[0] / a.group)) * shape[1] + column
        default:
            return i / (shape[1] * inner)
        }
    }

    static func uniqueName(_ base: String, in g: Graph) -> String {
        var name = base, i = 1
        while g.initializers[name] != nil { name = "\(base)_\(i)"; i += 1 }
        return name
    }
}
