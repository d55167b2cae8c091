import OctetCore
import OctetIR

/// Folds a zero Pad of the spatial axes into the convolutions it feeds (TensorFlow and Keras
/// exports write "same" padding of a strided convolution as an explicit Pad before it):
///
///     p = Pad(x, pads, 0); y = Conv(p, W, B)   ⇒   y = Conv(x, W, B) with its pads grown by pads
///
/// Exact: a convolution's own padding reads zeros, as the Pad wrote them; in an INT8 model
/// both read the input's zero point. The Pad must be constant mode with value 0 (or none), pad
/// only height and width, by non-negative amounts, and feed only 2-D convolutions (as their
/// input, with explicit pads: `auto_pad` computes its pads from the padded size) whose grown
/// pads stay smaller than their window; the padded tensor must not be a graph output. Saves the
/// padded copy and, in the INT8 plan, an FP32 island around the Pad.
public enum FoldPadIntoConv {
    public static let pass = Pass("FoldPadIntoConv") { (g: Graph) throws(GraphError) -> Graph in apply(g) }

    public static func apply(_ graph: Graph) -> Graph {
        var g = graph
        let outputs = Set(g.outputs.map(\.name))
        let consumers = g.consumers
        var removed = Set<Int>()
        for (padIndex, pad) in g.nodes.enumerated() {
            guard case .pad(.constant) = pad.op, let y = pad.outputs.first, !outputs.contains(y),
                  let readers = consumers[y], !readers.isEmpty, let spatial = spatialPads(pad, g) else { continue }
            let convs = readers.filter { i in
                guard case .conv(let w, _) = g.nodes[i].op, w.autoPad == .notSet, w.kernel.count == 2,
                      w.dilations.count == 2, w.pads.count == 4 else { return false }
                // Each grown pad stays within the window's extent, as the kernels expect of pads.
                let extent = [0, 1, 0, 1].map { (w.kernel[$0] - 1) * w.dilations[$0] + 1 }
                guard (0..<4).allSatisfy({ w.pads[$0] + spatial[$0] < extent[$0] }) else { return false }
                return g.nodes[i].inputs.firstIndex(of: y) == 0 && g.nodes[i].inputs.dropFirst().allSatisfy { $0 != y }
            }
            guard convs.count == readers.count else { continue }
            for i in convs {
                guard case .conv(var window, let group) = g.nodes[i].op else { continue }
                window.pads = zip(window.pads, spatial).map { $0 + $1 }
                g.nodes[i].op = .conv(window, group: group)
                g.nodes[i].inputs[0] = pad.inputs[0]
            }
            removed.insert(padIndex)
        }
        g.nodes = g.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return EliminateDeadNodes.apply(g)
    }

    /// The Pad's [top, left, bottom, right] when it pads a rank-4 NCHW tensor with zeros on
    /// height and width only; nil for any other Pad (or pads that are not constants).
    static func spatialPads(_ pad: Node, _ g: Graph) -> [Int]? {
        if pad.inputs.count > 2, !pad.inputs[2].isEmpty {
            guard let v = g.initializers[pad.inputs[2]]?.floats, v.allSatisfy({ $0 == 0 }) else { return nil }
        }
        guard let pads = try? PadSpec.resolve(node: pad, rank: 4, constant: { g.initializers[pad.inputs[$0]] }),
              pads.count == 8, pads.allSatisfy({ $0 >= 0 }),
              pads[0] == 0, pads[1] == 0, pads[4] == 0, pads[5] == 0 else { return nil }
        return [pads[2], pads[3], pads[6], pads[7]]
    }
}
