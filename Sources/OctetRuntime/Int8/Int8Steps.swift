import OctetCore
import OctetIR
import OctetKernels

/// Where the result of an integer convolution goes: a u8 tensor (requantized, activation fused
/// as a clamp) or a float tensor (dequantized, e.g. the logits of the last Gemm).
enum ConvOutput {
    case quantized(slot: Int, multipliers: [Float], zeroPoint: Int32, lo: Int32, hi: Int32)
    case float(slot: Int, scales: [Float], min: Float, max: Float)
}

/// An integer convolution over one NHWC image (Gemm is a 1×1 convolution over rows).
///
/// A class: every image's run of the plan reads its step, and a struct's eight or so arrays and
/// objects were each retained and released per read (atomically, on objects both worker threads
/// share: about a tenth of a small model's time); a reference is counted once. The compiler
/// builds each one and adjusts it in place while it fuses; the plan then holds it unchanged, so
/// it is shared across threads only once it no longer changes (`@unchecked`).
final class ConvInt8: @unchecked Sendable {
    let inH: Int, inW: Int, inC: Int
    let outH: Int, outW: Int, outC: Int
    let kh: Int, kw: Int, sh: Int, sw: Int, dh: Int, dw: Int, padTop: Int, padLeft: Int
    let groups: Int
    let input: Int
    let inputZero: Int32
    /// [outC][kh][kw][inC / groups]
    let weights: [Int8]
    /// Σ of each (output channel, tap) weight row, for the input zero-point correction.
    let tapSums: [Int32]
    let bias: [Int32]
    // What the compiler's fusions change: the output, the kernel, the residual, table or epilogue.
    var output: ConvOutput
    /// The C kernel for the chosen ISA path, or nil to run the plain-Swift reference.
    var fast: Int8ConvKernel?
    /// A residual Add fused into the u8 output: the other operand's slot and the Add's arithmetic.
    var residual: (slot: Int, add: Int8ConvKernel.ResidualAdd)? = nil
    /// A table activation fused after the u8 output (and any residual Add): each output code
    /// becomes `table[code]`, or with one table per output channel (PRelu) `table[c·256 + code]`,
    /// while the rows are still in cache (`Int8Compiler.fuseTableIntoConvolution`).
    var table: CodeTable? = nil
    /// A float activation and quantization after the float output (`lowerAsConvEpilogue`).
    var epilogue: FloatEpilogue? = nil
    /// The layer run once over the images of a layer-major group (small 1×1 layers only).
    private(set) var acrossImages: ConvAcrossImages? = nil

    init(inH: Int, inW: Int, inC: Int, outH: Int, outW: Int, outC: Int, kh: Int, kw: Int, sh: Int, sw: Int, dh: Int, dw: Int,
         padTop: Int, padLeft: Int, groups: Int, input: Int, inputZero: Int32, weights: [Int8], tapSums: [Int32], bias: [Int32],
         output: ConvOutput, fast: Int8ConvKernel?) {
        (self.inH, self.inW, self.inC, self.outH, self.outW, self.outC) = (inH, inW, inC, outH, outW, outC)
        (self.kh, self.kw, self.sh, self.sw, self.dh, self.dw, self.padTop, self.padLeft) = (kh, kw, sh, sw, dh, dw, padTop, padLeft)
        (self.groups, self.input, self.inputZero) = (groups, input, inputZero)
        (self.weights, self.tapSums, self.bias, self.output, self.fast) = (weights, tapSums, bias, output, fast)
    }

    /// The same convolution without the plain-Swift reference's weights, bias and sums, for a
    /// plan whose C kernel holds its own packed copies (nil when it has none); with its
    /// `ConvAcrossImages` form where the plan runs groups of `imagesPerGroup` images and the layer
    /// has one.
    func withoutReferenceWeights(imagesPerGroup: Int = 1) -> ConvInt8? {
        guard fast != nil else { return nil }
        let c = ConvInt8(inH: inH, inW: inW, inC: inC, outH: outH, outW: outW, outC: outC, kh: kh, kw: kw, sh: sh, sw: sw, dh: dh, dw: dw,
                         padTop: padTop, padLeft: padLeft, groups: groups, input: input, inputZero: inputZero, weights: [], tapSums: [],
                         bias: [], output: output, fast: fast)
        (c.residual, c.table, c.epilogue) = (residual, table, epilogue)
        c.acrossImages = ConvAcrossImages(self, images: imagesPerGroup)
        return c
    }

    /// Multiply-accumulates for one image.
    var macs: Int { outH * outW * outC * (inC / groups) * kh * kw }

    /// This layer as a GEMM over `rows` rows of `inC` codes (each row one pixel, from any image),
    /// with the per-image C kernel's arithmetic for every row: nil unless it is a dense 1×1
    /// convolution (stride 1, no padding, one group, dense pixels) on a C kernel, without a fused
    /// residual Add or float epilogue, whose reference weights this object still holds. The
    /// batched classifier head (`BatchedTail`) and `ConvAcrossImages` run such layers.
    func overRows(_ rows: Int) -> Int8ConvKernel? {
        guard let fast, residual == nil, epilogue == nil, !weights.isEmpty, kh == 1, kw == 1, sh == 1, sw == 1, padTop == 0,
              padLeft == 0, groups == 1, outH == inH, outW == inW,
              fast.geometry.inPixelStride == inC, fast.geometry.outPixelStride == outC else { return nil }
        let stage: Int8ConvKernel.Output = switch output {
        case .quantized(_, let multipliers, let zeroPoint, let lo, let hi): .quantized(multipliers: multipliers, zeroPoint: zeroPoint, lo: lo, hi: hi)
        case .float(_, let scales, let lo, let hi): .float(scales: scales, min: lo, max: hi)
        }
        return Int8ConvKernel(geometry: ConvLowering.rows(rows, inner: inC, outer: outC), inputZeroPoint: inputZero, weights: weights,
                              bias: bias, output: stage, isa: fast.isa, weightFormat: fast.weightFormat)
    }
}

/// One step of an INT8 plan on one image. u8 and float tensors live in separate slot arrays.
enum Int8Step {
    case quantize(src: Int, dst: Int, params: QuantParams, fast: ISA?)
    /// A float NHWC tensor to codes with each channel's scale (the innermost dimension) and one
    /// zero point: NNCF's depthwise inputs after a float activation.
    case quantizeChannels(src: Int, dst: Int, scales: [Float], zeroPoint: Int32, fast: ISA?)
    case requantize(src: Int, dst: Int, multiplier: Float, zeroIn: Int32, zeroOut: Int32, fast: ISA?)
    case dequantize(src: Int, dst: Int, params: QuantParams)
    /// Data movement on codes (Transpose, Slice, Split, Gather, Reshape...): dst is `view` of the
    /// src buffer, written in the view's row-major order (`Int8Compiler+DataMovement`); `fast`: the
    /// C interleave for a two-group channel shuffle, or nil for the plain-Swift copy.
    case moveU8(src: Int, dst: Int, view: StridedView, label: String, fast: ISA?)
    /// Pad of codes (`DataMovement.pad` on the physical layout: `shape` and `pads` in physical
    /// axis order), constant mode filling `code`, reflect and edge copying codes.
    case padU8(src: Int, dst: Int, shape: Shape, pads: [Int], mode: PadMode, code: UInt8)
    /// Nearest-neighbour Resize of an NHWC image of codes: output pixel (y, x) is input pixel
    /// (rows[y], columns[x]).
    case resizeNearestU8(src: Int, dst: Int, inWidth: Int, channels: Int, rows: [Int], columns: [Int])
    /// Bilinear Resize of an NHWC image of codes, the output at the input's parameters
    /// (`BilinearResizeKernel`; `isa` .scalar is the specification).
    case resizeLinearU8(src: Int, dst: Int, kernel: BilinearResizeKernel, isa: ISA)
    case relayoutFloat(src: Int, dst: Int, inShape: Shape, outShape: Shape)
    case conv(ConvInt8)
    /// A layer kept in FP32 (excluded from quantization), on the FP32 kernels.
    case floatConv(Conv2DKernel, src: Int, dst: Int)
    /// `fast`: the C kernel path, or nil for the plain-Swift reference.
    case add(a: Int, b: Int, dst: Int, ma: Float, za: Int32, mb: Float, zb: Int32, zy: Int32, lo: Int32, hi: Int32, fast: ISA?)
    case maxPool(src: Int, dst: Int, window: PoolWindow, fast: ISA?)
    /// `fast`: the path whose sum kernel adds up the windows (`PixelSumKernel`); nil, the Swift loop.
    case averagePool(src: Int, dst: Int, window: PoolWindow, zeroIn: Int32, scales: AverageScales, zeroOut: Int32, countIncludePad: Bool, fast: ISA?)
    /// The mean of each channel of an NHWC image of codes over its `pixels` pixels, as floats:
    /// `Float(Σ(q − zeroPoint)) · scale / pixels` from the exact integer sum (`PixelSumKernel`;
    /// `fast` nil: a Swift loop), for a GlobalAveragePool whose output the file leaves in float
    /// (NNCF's squeeze of a squeeze-excitation block) instead of dequantizing the whole map.
    case spatialMeanFloat(src: Int, dst: Int, pixels: Int, channels: Int, zeroPoint: Int32, scale: Float, fast: ISA?)
    case clampFloat(src: Int, dst: Int, min: Float, max: Float)
    /// Softmax of float rows (`SoftmaxKernel`; `fast` nil: its scalar twin).
    case softmaxFloat(src: Int, dst: Int, rows: Int, columns: Int, fast: ISA?)
    /// dst[i] = table[src[i]]: an element-wise function of one quantized tensor (`lowerAsTable`).
    /// With tables per channel of NHWC codes: dst[i] = table[(i % channels)·256 + src[i]].
    case lookup(src: Int, dst: Int, table: CodeTable, label: String, fast: ISA?)
    /// Concat of u8 tensors: `outer` rows, each every part's block of `inner` codes in turn,
    /// requantized to the output's parameters where a part's differ (`ConcatPart`).
    case concat(parts: [ConcatPart], dst: Int, outer: Int, zeroOut: Int32, fast: ISA?)
    /// The product of two quantized tensors (`QuantizedMulKernel`), b broadcast over the pixels or not.
    case mul(QuantizedMul)
    /// Nodes without an integer step, on the FP32 kernels (`FloatIsland`).
    case island(FloatIsland)
    /// ConvTranspose's scatter-add of float tap columns into its NHWC output, plus the bias
    /// (`Int8Compiler+ConvTranspose`).
    case col2im(src: Int, dst: Int, geometry: ConvTransposeGeometry, bias: [Float]?)
}

/// One input of a u8 Concat: its slot, its block per row and, where its parameters differ from
/// the output's, the requantization multiplier (nil: the codes are copied).
struct ConcatPart {
    var slot: Int
    var inner: Int
    var zeroIn: Int32
    var multiplier: Float?
}

/// The operands and arithmetic of a quantized Mul: y = requantize((a − za)·(b − zb), m) + zy.
struct QuantizedMul {
    var a: Int, b: Int, dst: Int
    var za: Int32, zb: Int32
    /// The output zero point as the file writes it (signed for int8 codes), added in float, and
    /// the shift of its codes (128 for int8, else 0), added after rounding (`Int8Arithmetic.product`).
    var zy: Int32, codeOffset: Int32
    var m: Float
    var lo: Int32, hi: Int32
    /// `pixels` rows of `channels` values; b is one row broadcast over them when `broadcastB`.
    var pixels: Int, channels: Int, broadcastB: Bool
    /// The C kernel path, or nil for the plain-Swift reference.
    var fast: ISA?
}

/// A 2-D pooling window over one NHWC image of `channels` channels.
struct PoolWindow {
    var inH: Int, inW: Int, channels: Int, outH: Int, outW: Int
    var kh: Int, kw: Int, sh: Int, sw: Int, padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
}

extension Int8Step {
    /// The u8 and float slots this step reads (its operands), for the plan's liveness.
    var operands: (u8: [Int], float: [Int]) {
        switch self {
        case .quantize(let src, _, _, _), .quantizeChannels(let src, _, _, _, _): return ([], [src])
        case .requantize(let src, _, _, _, _, _), .dequantize(let src, _, _), .moveU8(let src, _, _, _, _), .lookup(let src, _, _, _, _),
             .padU8(let src, _, _, _, _, _),
             .resizeNearestU8(let src, _, _, _, _, _), .resizeLinearU8(let src, _, _, _),
             .maxPool(let src, _, _, _), .averagePool(let src, _, _, _, _, _, _, _), .spatialMeanFloat(let src, _, _, _, _, _, _):
            return ([src], [])
        case .relayoutFloat(let src, _, _, _), .floatConv(_, let src, _), .clampFloat(let src, _, _, _), .softmaxFloat(let src, _, _, _, _),
             .col2im(let src, _, _, _):
            return ([], [src])
        case .conv(let c): return ([c.input] + (c.residual.map { [$0.slot] } ?? []), [])
        case .add(let a, let b, _, _, _, _, _, _, _, _, _): return ([a, b], [])
        case .mul(let m): return ([m.a, m.b], [])
        case .concat(let parts, _, _, _, _): return (parts.map(\.slot), [])
        case .island(let i): return ([], i.inputs.map(\.slot))
        }
    }
}

extension Int8Step {
    /// The u8 and float slots this step writes.
    var results: (u8: [Int], float: [Int]) {
        switch self {
        case .quantize(_, let dst, _, _), .quantizeChannels(_, let dst, _, _, _), .requantize(_, let dst, _, _, _, _), .padU8(_, let dst, _, _, _, _), .moveU8(_, let dst, _, _, _), .lookup(_, let dst, _, _, _),
             .resizeNearestU8(_, let dst, _, _, _, _), .resizeLinearU8(_, let dst, _, _),
             .add(_, _, let dst, _, _, _, _, _, _, _, _), .maxPool(_, let dst, _, _), .averagePool(_, let dst, _, _, _, _, _, _):
            return ([dst], [])
        case .dequantize(_, let dst, _), .relayoutFloat(_, let dst, _, _), .floatConv(_, _, let dst), .clampFloat(_, let dst, _, _),
             .spatialMeanFloat(_, let dst, _, _, _, _, _),
             .softmaxFloat(_, let dst, _, _, _), .col2im(_, let dst, _, _):
            return ([], [dst])
        case .conv(let c):
            switch c.output {
            case .quantized(let slot, _, _, _, _): return ([slot], [])
            case .float(let slot, _, _, _): return (c.epilogue.map { [$0.dst] } ?? [], [slot])
            }
        case .mul(let m): return ([m.dst], [])
        case .concat(_, let dst, _, _, _): return ([dst], [])
        case .island(let i): return ([], i.outputs.map(\.slot) + [i.workspace])
        }
    }
}

/// A tensor of an INT8 plan: u8 codes and float values are numbered apart by the compiler.
enum Int8Value: Hashable {
    case u8(Int)
    case float(Int)
}

/// Where the tensors of an INT8 plan live in the per-image arena (`MemoryPlanner`) and how many
/// elements each holds: the INT8 steps address their slots through it. Every step of every
/// image reads it from every worker thread, so its tables are plain memory of its own, never
/// reference counted: an array read through a shared object was retained and released per read
/// (`swift_retain` was 5% of PP-OCR cls's INT8 samples on two threads, 1% after this and the
/// same change to `Int8ConvKernel`).
final class Int8Memory: @unchecked Sendable {
    /// Arena offsets (in floats) of each u8 and float slot; -1 for a slot never written.
    let u8Offsets: UnsafeBufferPointer<Int>
    let floatOffsets: UnsafeBufferPointer<Int>
    let u8Counts: UnsafeBufferPointer<Int>
    let floatCounts: UnsafeBufferPointer<Int>

    /// Offsets by liveness over `steps` (`reuse` false: every tensor kept to the end of the image).
    init(steps: [Int8Step], u8Counts: [Int], floatCounts: [Int], inputs: [Int], outputs: [Int], reuse: Bool) {
        self.u8Counts = Self.fixed(u8Counts)
        self.floatCounts = Self.fixed(floatCounts)
        let reads = steps.map { s in s.operands.u8.map(Int8Value.u8) + s.operands.float.map(Int8Value.float) }
        let writes = steps.map { s in s.results.u8.map(Int8Value.u8) + s.results.float.map(Int8Value.float) }
        let (offsets, size) = MemoryPlanner.assign(
            inputs: inputs.map(Int8Value.float), reads: reads, writes: writes,
            floats: { v in
                switch v {
                case .u8(let s): (u8Counts[s] + 3) / 4
                case .float(let s): floatCounts[s]
                }
            },
            keep: Set(outputs.map(Int8Value.float)), reuse: reuse)
        u8Offsets = Self.fixed(u8Counts.indices.map { offsets[.u8($0)] ?? -1 })
        floatOffsets = Self.fixed(floatCounts.indices.map { offsets[.float($0)] ?? -1 })
        arenaFloats = size
    }

    deinit {
        for table in [u8Offsets, floatOffsets, u8Counts, floatCounts] { table.deallocate() }
    }

    /// A copy of `values` in memory this object owns.
    private static func fixed(_ values: [Int]) -> UnsafeBufferPointer<Int> {
        let table = UnsafeMutableBufferPointer<Int>.allocate(capacity: values.count)
        _ = table.initialize(from: values)
        return UnsafeBufferPointer(table)
    }

    /// Floats of arena the plan needs per image.
    let arenaFloats: Int

    /// The tensors of one image's arena starting at `base`.
    func bound(to base: UnsafeMutablePointer<Float>) -> Int8Tensors { Int8Tensors(memory: self, base: base) }
}

/// The slots of one image's arena, as pointers (valid while the arena is, and used only while
/// the plan holding `memory` runs, hence unowned).
struct Int8Tensors {
    unowned(unsafe) let memory: Int8Memory
    let base: UnsafeMutablePointer<Float>

    func u8(_ slot: Int) -> UnsafeMutablePointer<UInt8> {
        UnsafeMutableRawPointer(base + memory.u8Offsets[slot]).assumingMemoryBound(to: UInt8.self)
    }
    func u8Buffer(_ slot: Int) -> UnsafeMutableBufferPointer<UInt8> { UnsafeMutableBufferPointer(start: u8(slot), count: memory.u8Counts[slot]) }
    func float(_ slot: Int) -> UnsafeMutablePointer<Float> { base + memory.floatOffsets[slot] }
    func floatBuffer(_ slot: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: float(slot), count: memory.floatCounts[slot])
    }
}
