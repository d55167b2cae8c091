import Dispatch
import Foundation
import OctetCore
import OctetIR
import OctetKernels

/// Runs a QDQ model (ours or another tool's) with integer arithmetic exactly as the fast
/// kernels will (see `Int8Arithmetic`): each QuantizeLinear whose input is a Conv, Gemm, Add or
/// pooling of dequantized tensors (optionally through Relu/Clip) becomes one integer step.
/// The plain-Swift steps (`isa` nil) are the specification the SIMD kernels are tested against.
///
/// The integer steps run on the FP32 plan's executor (`ExecutionPlan`): one memory planner (the
/// u8 and float tensors of an image share one arena, reused by liveness), one thread pool, one
/// step protocol (profiling, batched classifier head).
public final class Int8Plan: @unchecked Sendable {
    let inputs: [(name: String, slot: Int, shape: Shape)]
    let outputs: [(name: String, slot: Int, shape: Shape)]
    /// Every u8 tensor produced by a QuantizeLinear, by the name of that node's output.
    let quantizedValues: [(name: String, slot: Int, params: QuantParams)]
    public let threads: Int
    /// The model's inputs and outputs, by name, in the graph's order.
    public var inputNames: [String] { inputs.map(\.name) }
    public var outputNames: [String] { outputs.map(\.name) }
    /// Names and per-image shapes (batch dimension 1) of the model inputs.
    public var inputShapes: [(name: String, shape: Shape)] { executor.inputShapes }
    /// Multiply-accumulates of the integer convolutions for one image.
    public let macsPerImage: Int
    /// The compiled steps on the shared executor (tensors reused by liveness).
    let executor: ExecutionPlan
    /// The same steps with every tensor kept to the end of the image (`dequantizedIntermediates`).
    private let keepingAll: ExecutionPlan
    /// Floats of activation memory (u8 and float tensors of one image) per worker, tensors reusing
    /// the memory of those no longer read (`MemoryPlanner`).
    public var arenaFloats: Int { executor.arenaFloats }
    /// The same without reuse: every tensor of an image in its own memory.
    public var tensorFloats: Int { keepingAll.arenaFloats }
    /// Whether the final fully connected layer runs once over each thread's images (C kernels,
    /// a classifier whose float output is the plan's only output) rather than once per image.
    public var batchesClassifier: Bool { executor.compiled.tail != nil }
    /// Images a worker runs layer by layer (`ExecutionPlan.imagesPerGroup`).
    public var imagesPerGroup: Int { executor.imagesPerGroup }
    /// Where a large model's images turn layer-major (`ExecutionPlan.layerMajorFromStep`).
    public var layerMajorFromStep: Int? { executor.layerMajorFromStep }
    /// The layers run once over every image of such a group (`ConvAcrossImages`: small 1×1
    /// layers, a squeeze-excitation's), by profile label.
    public var layersAcrossImages: [String] {
        zip(executor.compiled.steps, executor.compiled.labels).compactMap { step, label in
            if case .int8(.conv(let c)) = step, c.acrossImages != nil { return label }
            return nil
        }
    }

    /// The kernel path, or nil when the plain-Swift reference kernels run.
    public let isa: ISA?

    /// - Parameters:
    ///   - isa: the C kernel path to use (bit-exact with the reference), or nil for the
    ///     plain-Swift reference implementation of `Int8Arithmetic`.
    ///   - fuseIntoConvolutions: fuse an Add into the convolution producing an operand where the
    ///     kernel can, and a table activation into the convolution whose output only it reads
    ///     (same results); the convolution's own output is then not kept, so
    ///     `dequantizedIntermediates` lacks it. Off to see every quantized tensor.
    ///   - inputShapes: per-input shapes where the model leaves dimensions other than the batch
    ///     symbolic (the plan is specialized to them; see `ExecutionPlan`).
    public init(graph: Graph, threads: Int = 1, isa: ISA? = .best, fuseIntoConvolutions: Bool = true,
                inputShapes: [String: Shape] = [:]) throws(RuntimeError) {
        do { try graph.verify() } catch { throw .graph(error) }
        let perImage = try PlanCompiler.perImageShapes(graph, given: inputShapes)
        var c = Int8Compiler(graph: graph, inputShapes: perImage, isa: isa, fuseIntoConvolutions: fuseIntoConvolutions)
        self.isa = isa
        try c.compile()
        inputs = c.inputSlots
        outputs = c.outputSlots
        macsPerImage = c.macs
        quantizedValues = c.values.compactMap { name, v in
            if case .u8(let slot, let params) = v, !name.contains("#"), !c.fusedAway.contains(slot) { return (name, slot, params) }
            return nil
        }.sorted { $0.name < $1.name }
        self.threads = max(1, threads)
        let options = PlanOptions(isa: isa ?? .scalar, threads: threads)
        executor = ExecutionPlan(compiled: Self.compiled(c, reuse: true), options: options)
        keepingAll = ExecutionPlan(compiled: Self.compiled(c, reuse: false), options: options)
    }

    /// The compiler's steps as a plan of the shared executor: tensors placed by `MemoryPlanner`
    /// (`reuse` false: each its own memory), rank-4 tensors NHWC.
    private static func compiled(_ c: Int8Compiler, reuse: Bool) -> CompiledPlan {
        let memory = Int8Memory(steps: c.steps, u8Counts: c.u8Sizes, floatCounts: c.floatSizes, inputs: c.inputSlots.map(\.slot),
                                outputs: c.outputSlots.map(\.slot), reuse: reuse)
        func slot(_ v: (name: String, slot: Int, shape: Shape)) -> (String, Slot) {
            (v.name, Slot(shape: v.shape, layout: LayoutConversion.layout(for: v.shape), operand: .arena(memory.floatOffsets[v.slot])))
        }
        let tail = reuse ? BatchedTail(int8Steps: c.steps, memory: memory, outputs: c.outputSlots) : nil
        let macs = c.steps.map { step -> Int in
            guard case .conv(let conv) = step else { return 0 }
            return conv.macs
        }
        // Groups of images run layer by layer only in the executor that reuses memory (the other
        // runs one image to read its tensors).
        let imagesPerGroup = reuse ? CompiledPlan.imageGroup(arenaFloats: memory.arenaFloats) : 1
        let steps = c.steps.map { step -> Step in
            if case .conv(let conv) = step, let slim = conv.withoutReferenceWeights(imagesPerGroup: imagesPerGroup) {
                // The C kernel holds its own packed weights; the plain-Swift reference's copies
                // would only be held twice in memory.
                return .int8(.conv(slim))
            }
            guard case .island(let i) = step else { return .int8(step) }
            return .floatIsland(FloatIslandStep(plan: i.plan, inputs: i.inputs.map { (memory.floatOffsets[$0.slot], $0.island) },
                                                outputs: i.outputs.map { (memory.floatOffsets[$0.slot], $0.island) },
                                                workspace: memory.floatOffsets[i.workspace]))
        }
        var plan = CompiledPlan(isa: c.isa ?? .scalar, tail: tail, steps: steps, observed: c.steps.map { _ in [] },
                            inputs: c.inputSlots.map(slot), outputs: c.outputSlots.map(slot), arenaCount: memory.arenaFloats,
                            scratchCount: zip(c.steps, steps).map { step, final in
                                if case .int8(let s) = final { return Int8Kernels.scratchFloats(s) }
                                return Int8Kernels.scratchFloats(step)
                            }.max() ?? 0, macs: c.macs, labels: zip(c.steps, steps).map { step, final in
                                if case .int8(.conv(let conv)) = final, conv.acrossImages != nil { return label(step) + " across images" }
                                return label(step)
                            }, stepMacs: macs, int8: memory)
        if reuse {
            plan.lateGroupStart = CompiledPlan.lateGroupStart(workingBytes: c.steps.map { step in
                let (ru, rf) = step.operands, (wu, wf) = step.results
                return (ru + wu).reduce(0) { $0 + c.u8Sizes[$1] } + (rf + wf).reduce(0) { $0 + c.floatSizes[$1] * MemoryLayout<Float>.stride }
            }, arenaFloats: memory.arenaFloats)
        }
        return plan
    }

    /// Runs a batch `[N, ...]` per input; returns each output `[N, ...]`.
    public func run(_ feeds: [String: Tensor]) throws(RuntimeError) -> [String: Tensor] {
        try executor.run(feeds)
    }

    /// Runs a batch adding each step's time to `profile` (from `makeProfile`).
    public func run(_ feeds: [String: Tensor], profile: StepProfile) throws(RuntimeError) -> [String: Tensor] {
        try executor.run(feeds, profile: profile)
    }

    /// An empty profile for this plan's steps (labels from `label(_:)`, MACs of the convolutions).
    public func makeProfile() -> StepProfile { executor.makeProfile() }

    /// Time of each step over a batch of `images` copies of the sample in `feeds` (`[1, ...]` per
    /// input): the step label and its nanoseconds summed over the images, in plan order.
    public func profile(_ feeds: [String: Tensor], images: Int) throws(RuntimeError) -> [(label: String, nanoseconds: UInt64)] {
        var batch: [String: Tensor] = [:]
        for (name, _, shape) in inputs {
            guard let v = feeds[name]?.floats, v.count >= shape.elementCount else { throw .badInput(name: name, detail: "expected one sample") }
            var s = shape
            s[0] = max(images, 1)
            do { batch[name] = try Tensor(shape: s, floats: Array(repeating: Array(v.prefix(shape.elementCount)), count: s[0]).flatMap { $0 }) } catch {
                throw .badInput(name: name, detail: "\(error)")
            }
        }
        let p = makeProfile()
        _ = try executor.run(batch, profile: p)
        return zip(p.labels, p.nanoseconds).map { ($0, $1) }
    }

    static func label(_ step: Int8Step) -> String {
        switch step {
        case .conv(let c):
            let kind = c.inC == c.groups && c.outC == c.groups && c.groups > 1 ? "dwconv" : "conv"
            // The kernel each layer runs: its path, then the GEMM's microkernel or "depthwise" or
            // "small-group" (the per-channel kernel ck_gconv2d_u8s8), and "8-bit split" or
            // "8-bit s16" where 8-bit weights run as two halves or widened.
            let kernel = c.fast.map { " [\($0.isa.rawValue) \($0.kernelName)\($0.weightFormat == .plain ? "" : " \($0.weightFormat)")]" } ?? " (swift)"
            return "\(kind) \(c.kh)x\(c.kw)/\(c.sh) \(c.inH)x\(c.inW)x\(c.inC) -> \(c.outH)x\(c.outW)x\(c.outC)\(c.residual == nil ? "" : " + add")\(c.table == nil ? "" : c.table?.computed != nil ? " + table (computed)" : " + table")\(c.epilogue.map { " + \($0.label) (fp32) + quantize" } ?? "")\(kernel)"
        case .add(_, _, _, _, _, _, _, _, _, _, let fast): return "add\(fast == nil ? " (swift)" : "")"
        case .maxPool(_, _, let w, _): return "maxpool \(w.kh)x\(w.kw) \(w.inH)x\(w.inW)x\(w.channels)"
        case .averagePool(_, _, let w, _, _, _, _, _): return "avgpool \(w.kh)x\(w.kw) \(w.inH)x\(w.inW)x\(w.channels)"
        case .spatialMeanFloat(_, _, let pixels, let channels, _, _, _): return "global mean of codes -> fp32 \(pixels)x\(channels)"
        case .quantize: return "quantize"
        case .quantizeChannels: return "quantize per channel"
        case .requantize: return "requantize"
        case .dequantize: return "dequantize"
        case .relayoutFloat: return "relayout"
        case .moveU8(_, _, _, let label, _): return label
        case .padU8(_, _, _, _, let mode, _): return "pad \(mode.rawValue) u8"
        case .col2im(_, _, let g, _): return "convtranspose scatter -> \(g.outHeight)x\(g.outWidth)x\(g.outChannels)"
        case .resizeNearestU8(_, _, _, let channels, let rows, let columns): return "resize nearest u8 -> \(rows.count)x\(columns.count)x\(channels)"
        case .resizeLinearU8(_, _, let k, _): return "resize linear u8 -> \(k.outHeight)x\(k.outWidth)x\(k.channels)"
        case .floatConv: return "fp32 conv"
        case .clampFloat: return "clamp (fp32)"
        case .softmaxFloat: return "softmax (fp32)"
        case .island(let i): return i.label
        case .lookup(_, _, _, let label, _): return label
        case .concat(let parts, _, _, _, _): return "concat \(parts.count) (\(parts.filter { $0.multiplier != nil }.count) requantized)"
        case .mul(let m): return "mul\(m.broadcastB ? " (channel gate)" : "")\(m.fast == nil ? " (swift)" : "")"
        }
    }

    /// Runs one image (`[1, ...]` per input, row-major) and returns the real values of every
    /// quantized tensor, by QuantizeLinear output name, in the executor's layout (NHWC for
    /// rank 4, the same layout the FP32 executor shows observers).
    public func dequantizedIntermediates(_ feeds: [String: Tensor]) throws(RuntimeError) -> [String: [Float]] {
        var images: [[Float]] = []
        for (name, _, shape) in inputs {
            guard let v = feeds[name]?.floats, v.count == shape.elementCount else {
                throw .badInput(name: name, detail: "expected one sample of shape \(shape)")
            }
            images.append(v)
        }
        guard let memory = keepingAll.compiled.int8 else { return [:] }
        return keepingAll.withImageArena(images) { base in
            let tensors = memory.bound(to: base)
            var out: [String: [Float]] = [:]
            for (name, slot, p) in quantizedValues where memory.u8Offsets[slot] >= 0 {
                out[name] = tensors.u8Buffer(slot).map { Float(Int32($0) - p.zeroPoint) * p.scale }
            }
            return out
        }
    }
}

/// NHWC ↔ row-major NCHW for rank-4 per-image tensors (others are row-major already).
enum Layouts {
    static func fromRowMajor<T>(_ v: [T], shape: Shape) -> [T] {
        v.withUnsafeBufferPointer { fromRowMajor($0, shape: shape) }
    }

    static func fromRowMajor<T>(_ v: UnsafeBufferPointer<T>, shape: Shape) -> [T] {
        guard shape.rank == 4, shape[1] > 1, shape[2] * shape[3] > 1 else { return Array(v) }
        return transposed(v, rows: shape[1], columns: shape[2] * shape[3])
    }

    static func toRowMajor<T>(_ v: [T], shape: Shape) -> [T] {
        guard shape.rank == 4, shape[1] > 1, shape[2] * shape[3] > 1 else { return v }
        return v.withUnsafeBufferPointer { transposed($0, rows: shape[2] * shape[3], columns: shape[1]) }
    }

    /// A `rows × columns` row-major matrix transposed (every element written once, no copy first).
    static func transposed<T>(_ v: UnsafeBufferPointer<T>, rows: Int, columns: Int) -> [T] {
        precondition(v.count == rows * columns, "internal: layout size mismatch")
        return [T](unsafeUninitializedCapacity: v.count) { out, n in
            guard let src = v.baseAddress, let dst = out.baseAddress else { n = 0; return }
            for r in 0..<rows {
                let row = src + r * columns
                for c in 0..<columns { (dst + c * rows + r).initialize(to: row[c]) }
            }
            n = v.count
        }
    }
}
