import OctetCore

extension Graph {
    /// Checks the structural invariants every pass must keep: each value defined once
    /// (graph input, initializer or node output), defined before it is read, arities
    /// allowed by the op, and every graph output produced.
    public func verify() throws(GraphError) {
        var defined = Set(inputs.map(\.name))
        for name in initializers.keys {
            guard defined.insert(name).inserted || inputs.contains(where: { $0.name == name }) else {
                throw .valueDefinedTwice(name)
            }
        }
        for node in nodes {
            let (ins, outs) = node.op.arity
            guard ins.contains(node.inputs.count), outs.contains(node.outputs.count) else {
                throw .badArity(node: node.name, op: node.op.onnxType,
                                inputs: node.inputs.count, outputs: node.outputs.count)
            }
            for v in node.inputs where !v.isEmpty && !defined.contains(v) {
                throw .undefinedValue(node: node.name, value: v)
            }
            for o in node.outputs where !o.isEmpty {
                guard defined.insert(o).inserted else { throw .valueDefinedTwice(o) }
            }
        }
        for o in outputs where !defined.contains(o.name) { throw .missingOutput(o.name) }
    }
}
