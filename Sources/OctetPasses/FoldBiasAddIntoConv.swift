import OctetCore
import OctetIR

/// Folds an Add of a per-channel constant into the Conv or ConvTranspose that feeds it (the
/// bias of exporters that write it apart, PaddlePaddle's for one):
///
///     y = Conv(x, W, B); z = Add(y, c)   ⇒   z = Conv(x, W, B + c)
///
/// `c` must be a scalar or one value per output channel laid out as `[C, 1, 1]` or
/// `[1, C, 1, 1]`; the Conv's output must feed nothing else. Runs before `FoldBatchNormIntoConv`,
/// so Conv → Add → BatchNormalization becomes one Conv.
public enum FoldBiasAddIntoConv {
    public static let pass = Pass("FoldBiasAddIntoConv") { (g: Graph) throws(GraphError) -> Graph in apply(g) }

    public static func apply(_ graph: Graph) -> Graph {
        var g = graph
        let outputs = Set(g.outputs.map(\.name))
        var removed = Set<Int>()
        let producers = g.producers
        let consumers = g.consumers
        for (addIndex, add) in g.nodes.enumerated() {
            guard case .add = add.op, add.inputs.count == 2 else { continue }
            for (k, y) in add.inputs.enumerated() {
                guard let convIndex = producers[y], !removed.contains(convIndex),
                      consumers[y]?.count == 1, !outputs.contains(y) else { continue }
                let conv = g.nodes[convIndex]
                // The constant must not broadcast the layer's output to another shape.
                guard let outChannels = FoldBatchNormIntoConv.outputChannels(conv, g),
                      let rank = g.initializers[conv.inputs[1]]?.shape.rank,
                      let c = g.initializers[add.inputs[1 - k]], let cv = c.floats, c.shape.rank <= rank,
                      cv.count == 1 || (rank == 4 && cv.count == outChannels && isPerChannel(c.shape)) else { continue }
                var bias = [Float](repeating: 0, count: outChannels)
                if conv.inputs.count > 2, !conv.inputs[2].isEmpty {
                    guard let b = g.initializers[conv.inputs[2]]?.floats, b.count == outChannels else { continue }
                    bias = b
                }
                for o in 0..<outChannels { bias[o] += cv[cv.count == 1 ? 0 : o] }
                let bName = FoldBatchNormIntoConv.uniqueName(conv.name + "_bias_added", in: g)
                g.initializers[bName] = Tensor(computed: [outChannels], floats: bias)
                g.nodes[convIndex].inputs = [conv.inputs[0], conv.inputs[1], bName]
                g.nodes[convIndex].outputs = [add.outputs[0]]
                removed.insert(addIndex)
                break
            }
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return EliminateDeadNodes.apply(g)
    }

    /// `[C, 1, 1]` or `[1, C, 1, 1]`: one value per channel of an NCHW tensor.
    static func isPerChannel(_ s: Shape) -> Bool {
        (s.rank == 3 && s[1] == 1 && s[2] == 1) || (s.rank == 4 && s[0] == 1 && s[2] == 1 && s[3] == 1)
    }
}
