import OctetCore
import OctetIR
import OctetKernels

/// A run of nodes of a QDQ model that have no integer step (an op without an INT8 rule, or one
/// the file leaves unquantized), compiled by the FP32 compiler and run inside the INT8 plan on
/// the real values at its edges: the dequantized tensors it reads, the float tensors it writes
/// (which a QuantizeLinear after it turns back into codes).
///
///     ... → DQ → HardSwish → Q → ...   ⇒   dequantize; island { HardSwish }; quantize
///
/// The island's steps live in a workspace of the INT8 arena (a float slot of `arenaCount`
/// floats), so it needs no memory of its own and the memory planner frees it after the step.
struct FloatIsland {
    /// The FP32 steps, their arena offsets relative to the workspace.
    let plan: CompiledPlan
    /// The INT8 plan's float slots the island reads and writes, with the island's own slots.
    let inputs: [(slot: Int, island: Slot)]
    let outputs: [(slot: Int, island: Slot)]
    /// The float slot holding the island's arena.
    let workspace: Int
    /// What the profile shows: the ops and why they run in FP32.
    let label: String
}

/// A float island with every tensor at its place in the INT8 arena: the step the executor runs.
struct FloatIslandStep {
    let plan: CompiledPlan
    /// Arena offsets of the INT8 plan's tensors, with the island's slots (relative to `workspace`).
    let inputs: [(offset: Int, island: Slot)]
    let outputs: [(offset: Int, island: Slot)]
    let workspace: Int

    /// Copies the inputs in, runs the island's steps with `execute` (on the island's arena), and
    /// copies the outputs out. Rank-4 tensors of the INT8 plan are NHWC, as the island's inputs
    /// are; an island output kept row-major is converted.
    func run(_ base: UnsafeMutablePointer<Float>, execute: (Step, UnsafeMutablePointer<Float>) -> Void) {
        let arena = base + workspace
        for (offset, slot) in inputs { slot.operand.pointer(arena).update(from: base + offset, count: slot.count) }
        for step in plan.steps { execute(step, arena) }
        for (offset, slot) in outputs {
            let src = slot.operand.pointer(arena)
            if slot.layout == LayoutConversion.layout(for: slot.shape) {
                (base + offset).update(from: src, count: slot.count)
            } else {
                LayoutConversion.fromRowMajor(src, shape: slot.shape, layout: LayoutConversion.layout(for: slot.shape), into: base + offset)
            }
        }
    }
}

extension Int8Compiler {
    /// Whether node `node` (not fused away) lowers to integer or INT8-plan float steps; if not,
    /// it joins a float island.
    func hasIntegerLowering(_ node: Node, fusedActivation: Node??) -> Bool {
        let fused = fusedActivation != nil
        if node.op.keepsQuantization, quantized(node.inputs[0]) != nil { return movesCodes(node) }
        switch node.op {
        case .quantizeLinear:
            // Codes from a float (or dequantized) tensor; its scale must be a constant scalar.
            return true
        case .dequantizeLinear:
            if graph.initializers[node.inputs[0]] != nil { return true }
            switch values[node.inputs[0]] {
            case .u8?, .u8PerChannel?: return true
            default: return false
            }
        case .convTranspose:
            return quantizedConvTranspose(node) != nil
        case .pad:
            return padLowering(node) != nil
        case .conv, .gemm, .matMul:
            guard let w = constantShape(node.inputs[1]) else { return false }
            if case .matMul = node.op, w.rank != 2 { return false }
            if case .gemm(let a) = node.op, a.transA { return false }
            return shapes[node.inputs[0]] != nil
        case .add:
            return fused && quantized(node.inputs[0]) != nil && quantized(node.inputs[1]) != nil
                && shapes[node.inputs[0]] == shapes[node.inputs[1]]
        case .concat:
            // Codes requantized to the output's parameters, no activation after.
            guard case .some(.none) = fusedActivation, node.inputs.allSatisfy({ quantized($0) != nil }) else { return false }
            return concatLayout(node) != nil
        case .mul:
            return fused && quantized(node.inputs[0]) != nil && quantized(node.inputs[1]) != nil && mulShape(node) != nil
        case .maxPool, .averagePool:
            return fused && quantized(node.inputs[0]) != nil && shapes[node.inputs[0]]?.rank == 4
        case .globalAveragePool, .reduce(.mean, _, _):
            // With a QuantizeLinear after it, codes to codes; without, codes to float means.
            return quantized(node.inputs[0]) != nil && isSpatialMean(node)
        case .relu, .clip:
            return isActivation(node.inputs[0])
        case .flatten, .identity, .dropout:
            return isActivation(node.inputs[0])
        case .reshape:
            return isActivation(node.inputs[0]) && graph.initializers[node.inputs[1]] != nil
        case .softmax(let axis, let coerce2D):
            guard let s = shapes[node.inputs[0]], isActivation(node.inputs[0]) else { return false }
            let a = axis < 0 ? axis + s.rank : axis
            return s.rank != 4 && (coerce2D || a == s.rank - 1)
        default:
            return false
        }
    }

    /// Whether `name` is an activation the INT8 plan holds (float, or dequantized codes).
    func isActivation(_ name: String) -> Bool {
        switch values[name] {
        case .float?, .dequant?: true
        case .u8?, .u8PerChannel?, nil: false
        }
    }

    /// Compiles the pending island nodes (indices into the graph, in order) into one step.
    mutating func flushIsland() throws(RuntimeError) {
        guard let first = pendingIsland.first else { return }
        let indices = pendingIsland
        pendingIsland = []
        let nodes = indices.map { graph.nodes[$0] }
        let members = Set(indices)
        let produced = Set(nodes.flatMap(\.outputs).filter { !$0.isEmpty })
        let graphOutputs = Set(graph.outputs.map(\.name))
        var inputNames: [String] = [], seen = Set<String>()
        var initializers: [String: Tensor] = [:]
        for node in nodes {
            for x in node.inputs where !x.isEmpty && !produced.contains(x) && seen.insert(x).inserted {
                if let t = graph.initializers[x] {
                    initializers[x] = t
                } else if case .dequant? = values[x] {
                    inputNames.append(x)
                } else if case .float? = values[x] {
                    inputNames.append(x)
                } else if let c = constant(x) {
                    // DequantizeLinear of a constant: the island reads its real values.
                    do { initializers[x] = try Tensor(shape: c.shape, floats: c.values) } catch {
                        throw fail(graph.nodes[first], "constant '\(x)': \(error)")
                    }
                } else {
                    throw fail(node, "input '\(x)' is \(values[x] == nil ? "not computed by the INT8 plan" : "quantized codes") where FP32 values are expected")
                }
            }
        }
        let outputNames = nodes.flatMap(\.outputs).filter { o in
            !o.isEmpty && (graphOutputs.contains(o) || (consumers[o] ?? []).contains { !members.contains($0) })
        }
        if try lowerAsTable(indices, inputs: inputNames, outputs: outputNames) { return }
        if try lowerAsConvEpilogue(indices, inputs: inputNames, outputs: outputNames) { return }
        func info(_ name: String) throws(RuntimeError) -> ValueInfo {
            guard let s = shapes[name] else { throw fail(nodes[0], "no inferred shape for '\(name)'") }
            return ValueInfo(name: name, dims: s.dims.enumerated().map { i, d in i == 0 ? nil : d })
        }
        let sub = Graph(name: "island", inputs: try inputNames.map(info), outputs: try outputNames.map(info),
                        initializers: initializers, nodes: nodes, opsetVersion: graph.opsetVersion)
        var inputShapes: [String: Shape] = [:]
        for n in inputNames { inputShapes[n] = shapes[n] }
        // FP32 islands always run the best FP32 kernels, whatever INT8 path is forced (see lowerFloatConv).
        var compiler = PlanCompiler(graph: sub, options: PlanOptions(isa: .best, threads: 1), inputShapes: inputShapes)
        let plan = try compiler.compile()
        var inputs: [(slot: Int, island: Slot)] = []
        for (name, slot) in plan.inputs { inputs.append((try floatSlot(name, for: nodes[0]), slot)) }
        var outputs: [(slot: Int, island: Slot)] = []
        for (name, slot) in plan.outputs { outputs.append((newFloat(name), slot)) }
        let workspaceName = "#island\(islandCount)"
        islandCount += 1
        shapes[workspaceName] = Shape([max(plan.arenaCount, 1)])
        let workspace = newFloat(workspaceName)
        steps.append(.island(FloatIsland(plan: plan, inputs: inputs, outputs: outputs, workspace: workspace,
                                         label: islandLabel(nodes))))
    }

    /// "fp32 island: Resize, Concat×2 (not quantized in the model)": the island's ops and why they are FP32.
    func islandLabel(_ nodes: [Node]) -> String {
        let ops = Self.opList(nodes)
        // Quantized in the file (its inputs dequantized codes, its outputs requantized) yet run in
        // FP32: Octet has no integer kernel for it. Otherwise the file keeps it in FP32.
        let quantizedInFile = nodes.contains { n in
            let inQ = n.inputs.contains { x in producers[x].map { if case .dequantizeLinear = graph.nodes[$0].op { true } else { false } } ?? false }
            let outQ = n.outputs.contains { o in (consumers[o] ?? []).contains { if case .quantizeLinear = graph.nodes[$0].op { true } else { false } } }
            return inQ && outQ
        }
        return "fp32 island: \(ops) (\(quantizedInFile ? "no integer kernel in Octet" : "not quantized in the model"))"
    }
}
