import OctetIR

/// Which values are proven ≥ 0 by the graph's structure: outputs of Relu and of Clip with a
/// non-negative lower bound, and what max/average pooling, Flatten, Reshape, Identity,
/// Concat and Add of proven values produce. Such tensors get 256 unsigned levels.
public enum NonNegativity {
    public static func analyze(_ graph: Graph) -> Set<String> {
        var proven = Set<String>()
        for node in graph.nodes {
            let ins = node.inputs.filter { !$0.isEmpty }
            let yes: Bool
            switch node.op {
            case .relu: yes = true
            case .clip(let lo, _): yes = lo >= 0
            case .maxPool, .averagePool, .globalAveragePool, .flatten, .reshape, .identity, .dropout, .quantizeLinear, .dequantizeLinear:
                yes = proven.contains(node.inputs[0])
            case .add, .concat: yes = ins.allSatisfy { proven.contains($0) || isNonNegativeConstant($0, graph) }
            case .transpose, .slice, .split, .squeeze, .unsqueeze, .expand, .gather, .tile, .resize, .globalMaxPool, .cast:
                yes = proven.contains(node.inputs[0])
            case .reduce(let kind, _, _):
                yes = kind == .l1 || kind == .l2 || kind == .sumSquare || proven.contains(node.inputs[0])
            case .unary(let f):
                switch f {
                case .sigmoid, .exp, .abs, .sqrt, .hardSigmoid, .softplus, .not: yes = true
                default: yes = false
                }
            case .binary(let f): yes = f.isComparison
            case .conv, .batchNormalization, .mul, .gemm, .matMul, .softmax, .where, .pad, .shape, .size, .constantOfShape,
                 .range, .convTranspose, .logSoftmax, .layerNormalization, .instanceNormalization:
                yes = false
            }
            if yes { proven.insert(node.outputs[0]) }
        }
        return proven
    }

    static func isNonNegativeConstant(_ name: String, _ graph: Graph) -> Bool {
        graph.initializers[name]?.data.doubles.allSatisfy { $0 >= 0 } ?? false
    }
}
