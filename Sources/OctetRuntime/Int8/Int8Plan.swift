import Dispatch
import Foundation
import OctetCore
import OctetIR
import OctetKernels

/// Runs a QDQ model (ours or another tool's) with integer arithmetic exactly as the fast
/// kernels will (see `Int8Arithmetic`): each QuantizeLinear whose input is a Conv, Gemm, Add or
/// pooling of dequantized tensors (optionally through Relu/Clip) becomes one integer step.
/// Plain Swift: this executor is the specification the SIMD kernels are tested against.
public final class Int8Plan: @unchecked Sendable {
    let steps: [Int8Step]
    let u8Sizes: [Int]
    let floatSizes: [Int]
    let inputs: [(name: String, slot: Int, shape: Shape)]
    let outputs: [(name: String, slot: Int, shape: Shape)]
    /// Every u8 tensor produced by a QuantizeLinear, by the name of that node's output.
    let quantizedValues: [(name: String, slot: Int, params: QuantParams)]
    public let threads: Int
    /// Multiply-accumulates of the integer convolutions for one image.
    public let macsPerImage: Int
    /// The slots each step reads for the last time: released right after it, so the next
    /// steps' outputs reuse memory still in cache instead of each tensor of the image getting
    /// fresh (cold) memory.
    let lastReads: [(u8: [Int], float: [Int])]
    /// The final fully connected layer, run once over each thread's images when it has several.
    let head: BatchedHead?
    /// Whether the final fully connected layer runs once over each thread's images (C kernels,
    /// a classifier whose float output is the plan's only output) rather than once per image.
    public var batchesClassifier: Bool { head != nil }

    /// The kernel path, or nil when the plain-Swift reference kernels run.
    public let isa: ISA?
    /// Latency-mode helper pools, kept between runs (their threads start once).
    private let pools = SpinPools()

    /// - Parameters:
    ///   - isa: the C kernel path to use (bit-exact with the reference), or nil for the
    ///     plain-Swift reference implementation of `Int8Arithmetic`.
    ///   - fuseResidualAdds: fuse an Add into the convolution producing an operand where the
    ///     kernel can (same results); the convolution's own output is then not kept, so
    ///     `dequantizedIntermediates` lacks it. Off to see every quantized tensor.
    public init(graph: Graph, threads: Int = 1, isa: ISA? = .best, fuseResidualAdds: Bool = true) throws(RuntimeError) {
        var c = Int8Compiler(graph: graph, isa: isa, fuseResidualAdds: fuseResidualAdds)
        self.isa = isa
        try c.compile()
        steps = c.steps
        u8Sizes = c.u8Sizes
        floatSizes = c.floatSizes
        inputs = c.inputSlots
        outputs = c.outputSlots
        macsPerImage = c.macs
        quantizedValues = c.values.compactMap { name, v in
            if case .u8(let slot, let params) = v, !name.contains("#"), !c.fusedAway.contains(slot) { return (name, slot, params) }
            return nil
        }.sorted { $0.name < $1.name }
        self.threads = max(1, threads)
        lastReads = Self.lastReads(steps, keeping: Set(c.outputSlots.map(\.slot)))
        head = BatchedHead(steps: c.steps, outputs: c.outputSlots)
    }

    /// Runs a batch `[N, ...]` per input; returns each output `[N, ...]`.
    public func run(_ feeds: [String: Tensor]) throws(RuntimeError) -> [String: Tensor] {
        var batch = -1
        var sources: [[Float]] = []
        for (name, _, shape) in inputs {
            guard let t = feeds[name] else { throw .badInput(name: name, detail: "missing") }
            guard let v = t.floats else { throw .badInput(name: name, detail: "must be float32") }
            let expected = Array(shape.dims.dropFirst())
            guard t.shape.rank == shape.rank, Array(t.shape.dims.dropFirst()) == expected else {
                throw .badInput(name: name, detail: "expected shape [N,\(expected.map(String.init).joined(separator: ","))], got \(t.shape)")
            }
            if batch >= 0 && batch != t.shape[0] { throw .badInput(name: name, detail: "batch sizes differ") }
            batch = t.shape[0]
            sources.append(v)
        }
        guard batch > 0 else { throw .emptyBatch }
        let results = OutputBox(outputs.map { Array(repeating: Float(0), count: $0.shape.elementCount * batch) })
        // Throughput mode: images spread over the threads. Latency mode (fewer images than
        // threads): the threads left over split each convolution of an image.
        let workers = min(threads, batch)
        let intra = max(1, threads / workers)
        let srcs = sources
        let count = batch
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let pool = intra > 1 ? self.pools.take(width: intra) : nil
            defer { if let pool { self.pools.give(pool) } }
            let images = (count * w / workers)..<(count * (w + 1) / workers)
            let nhwc = { (image: Int) in
                srcs.enumerated().map { i, v in
                    let shape = self.inputs[i].shape, n = shape.elementCount
                    return v.withUnsafeBufferPointer { self.executorLayout(UnsafeBufferPointer(rebasing: $0[(image * n)..<((image + 1) * n)]), shape: shape) }
                }
            }
            if let head = self.head, images.count > 1 {
                // Every image up to the head, then the head over all of them at once.
                var rows: [UInt8] = []
                rows.reserveCapacity(images.count * head.inC)
                for image in images { rows += self.runImage(nhwc: nhwc(image), pool: pool, through: head).u8[head.input] }
                let logits = head.run(rows)
                for (k, image) in images.enumerated() { results.store(image: image, [Array(logits[(k * head.outC)..<((k + 1) * head.outC)])]) }
                return
            }
            for image in images { results.store(image: image, self.runImage(nhwc: nhwc(image), pool: pool).outputs) }
        }
        var out: [String: Tensor] = [:]
        for (i, o) in outputs.enumerated() {
            var s = o.shape
            s[0] = batch
            out[o.name] = try? Tensor(shape: s, floats: results.values[i])
        }
        return out
    }

    /// Runs one image on this thread (row-major per-image inputs and outputs), keeping every u8 tensor.
    func runImageCapturing(_ images: [[Float]]) -> (outputs: [[Float]], u8: [[UInt8]]) {
        runImage(nhwc: inputs.indices.map { i in images[i].withUnsafeBufferPointer { executorLayout($0, shape: inputs[i].shape) } }, pool: nil,
                 keepingAll: true)
    }

    /// For each step, the slots no later step reads (the plan's outputs excepted).
    static func lastReads(_ steps: [Int8Step], keeping outputs: Set<Int>) -> [(u8: [Int], float: [Int])] {
        var lastU8: [Int: Int] = [:], lastFloat: [Int: Int] = [:]
        for (i, step) in steps.enumerated() {
            for s in step.operands.u8 { lastU8[s] = i }
            for s in step.operands.float where !outputs.contains(s) { lastFloat[s] = i }
        }
        var out = [(u8: [Int], float: [Int])](repeating: ([], []), count: steps.count)
        for (s, i) in lastU8.sorted(by: { $0.key < $1.key }) { out[i].u8.append(s) }
        for (s, i) in lastFloat.sorted(by: { $0.key < $1.key }) { out[i].float.append(s) }
        return out
    }

    /// One image's row-major input in the executor's layout (NHWC for rank 4), in an aligned buffer.
    func executorLayout(_ v: UnsafeBufferPointer<Float>, shape: Shape) -> AlignedFloats {
        let out = AlignedFloats(uninitializedCount: v.count)
        guard let src = v.baseAddress else { return out }
        if shape.rank == 4, shape[1] > 1, shape[2] * shape[3] > 1 {
            LayoutKernel.nchwToNHWC(src, channels: shape[1], pixels: shape[2] * shape[3], into: out.pointer, isa: isa ?? .scalar)
        } else {
            out.pointer.initialize(from: src, count: v.count)
        }
        return out
    }

    /// Runs one image whose inputs are already in the executor's layout (NHWC for rank 4); a
    /// pool splits the larger layers across its threads. Tensors are released after their last
    /// read unless `keepingAll` (to see every u8 tensor afterwards).
    /// `through`: stop before that head's step (outputs are then empty; the head's input is in `u8`).
    func runImage(nhwc images: [AlignedFloats], pool: SpinPool?, keepingAll: Bool = false,
                  through head: BatchedHead? = nil) -> (outputs: [[Float]], u8: [[UInt8]]) {
        // Every step writes its whole output array before anything reads it, so slots start empty
        // (allocating and zeroing every tensor of the network up front costs more than the math).
        var u8 = [[UInt8]](repeating: [], count: u8Sizes.count)
        var f = [AlignedFloats](repeating: .empty, count: floatSizes.count)
        for (i, input) in inputs.enumerated() { f[input.slot] = images[i] }
        for (i, step) in steps[..<(head?.step ?? steps.count)].enumerated() {
            Int8Kernels.execute(step, &u8, &f, pool: pool)
            if !keepingAll { release(lastReads[i], &u8, &f) }
        }
        if head != nil { return ([], u8) }
        return (outputs.map { Layouts.toRowMajor(f[$0.slot].array, shape: $0.shape) }, u8)
    }

    @inline(__always)
    private func release(_ slots: (u8: [Int], float: [Int]), _ u8: inout [[UInt8]], _ f: inout [AlignedFloats]) {
        for s in slots.u8 { u8[s] = [] }
        for s in slots.float { f[s] = .empty }
    }

    /// Time of each step over `images` runs of one image on this thread (a profile: the step
    /// label and its nanoseconds summed over the runs, in plan order).
    public func profile(_ feeds: [String: Tensor], images: Int) throws(RuntimeError) -> [(label: String, nanoseconds: UInt64)] {
        var sources: [[Float]] = []
        for (name, _, shape) in inputs {
            guard let v = feeds[name]?.floats, v.count >= shape.elementCount else { throw .badInput(name: name, detail: "expected one sample") }
            sources.append(Array(v.prefix(shape.elementCount)))
        }
        var totals = [UInt64](repeating: 0, count: steps.count)
        for _ in 0..<max(images, 1) {
            var u8 = [[UInt8]](repeating: [], count: u8Sizes.count)
            var f = [AlignedFloats](repeating: .empty, count: floatSizes.count)
            for (i, input) in inputs.enumerated() { f[input.slot] = sources[i].withUnsafeBufferPointer { executorLayout($0, shape: input.shape) } }
            for (i, step) in steps.enumerated() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                Int8Kernels.execute(step, &u8, &f)
                totals[i] += DispatchTime.now().uptimeNanoseconds - t0
                release(lastReads[i], &u8, &f)
            }
        }
        return steps.enumerated().map { (Self.label($1), totals[$0]) }
    }

    static func label(_ step: Int8Step) -> String {
        switch step {
        case .conv(let c):
            let kind = c.inC == c.groups && c.outC == c.groups && c.groups > 1 ? "dwconv" : "conv"
            return "\(kind) \(c.kh)x\(c.kw)/\(c.sh) \(c.inH)x\(c.inW)x\(c.inC) -> \(c.outH)x\(c.outW)x\(c.outC)\(c.residual == nil ? "" : " + add")\(c.fast == nil ? " (swift)" : "")"
        case .add(_, _, _, _, _, _, _, _, _, _, let fast): return "add\(fast == nil ? " (swift)" : "")"
        case .maxPool(_, _, let w, _): return "maxpool \(w.kh)x\(w.kw) \(w.inH)x\(w.inW)x\(w.channels)"
        case .averagePool(_, _, let w, _, _, _, _): return "avgpool \(w.kh)x\(w.kw) \(w.inH)x\(w.inW)x\(w.channels)"
        case .quantize: return "quantize"
        case .requantize: return "requantize"
        case .dequantize: return "dequantize"
        case .relayoutU8, .relayoutFloat: return "relayout"
        case .floatConv: return "fp32 conv"
        case .clampFloat: return "clamp (fp32)"
        case .softmaxFloat: return "softmax (fp32)"
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
        let (_, u8) = runImageCapturing(images)
        var out: [String: [Float]] = [:]
        for (name, slot, p) in quantizedValues { out[name] = u8[slot].map { Float(Int32($0) - p.zeroPoint) * p.scale } }
        return out
    }
}

/// Per-image outputs gathered from worker threads, each writing its own images.
final class OutputBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [[Float]]
    init(_ v: [[Float]]) { values = v }
    func store(image: Int, _ outs: [[Float]]) {
        lock.lock(); defer { lock.unlock() }
        for (i, o) in outs.enumerated() {
            values[i].replaceSubrange((image * o.count)..<((image + 1) * o.count), with: o)
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
