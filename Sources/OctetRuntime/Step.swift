import OctetCore
import OctetIR
import OctetKernels

extension ActivationKernel.Kind {
    /// The C kernel of an element-wise function, where it has one.
    init?(_ f: UnaryFunction) {
        switch f {
        case .sigmoid: self = .sigmoid
        case .hardSwish: self = .hardSwish
        case .hardSigmoid(let a, let b): self = .hardSigmoid(alpha: a, beta: b)
        default: return nil
        }
    }
}

/// Where a value's elements live: at an offset of the per-image arena, or in a constant buffer.
enum Operand {
    case arena(Int)
    case constant(AlignedBuffer)

    func pointer(_ arena: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        switch self {
        case .arena(let offset): arena + offset
        case .constant(let buffer): buffer.pointer
        }
    }
}

/// A value of the plan: logical per-image shape, physical layout and storage.
struct Slot {
    var shape: Shape
    var layout: PhysicalLayout
    var operand: Operand
    var count: Int { shape.elementCount }
}

enum BinaryKind: Equatable {
    case add, mul
    case function(BinaryFunction)

    /// The C row kernel computing this op on `isa`, or nil where only the Swift definition runs.
    func rowKernel(isa: ISA) -> BinaryRowKernel? {
        let operation: BinaryRowKernel.Operation? = switch self {
        case .add: .add
        case .mul: .mul
        case .function(.sub): .sub
        case .function(.div): .div
        case .function(.max): .max
        case .function(.min): .min
        case .function(.prelu): .prelu
        case .function: nil
        }
        return operation.map { BinaryRowKernel($0, isa: isa) }
    }
}

/// Element-wise binary op over physical (row-major) dimensions with broadcast strides.
struct BroadcastPlan {
    var dims: [Int]
    var aStrides: [Int]
    var bStrides: [Int]
    /// The C row kernel of the op on the plan's ISA path, where it has one.
    var rowKernel: BinaryRowKernel? = nil
    var count: Int { dims.reduce(1, *) }

    /// How a row kernel covers the plan: `blocks` calls (over the first `outerRank` dimensions)
    /// of `rows` rows each, the rows being the dimensions between those and the innermost one,
    /// merged because both operands step through them evenly (`aRowStride`, `bRowStride` per
    /// row). Nil when an operand's innermost stride is not 0 or 1.
    func rowBlocks() -> (blocks: Int, outerRank: Int, rows: Int, aRowStride: Int, bRowStride: Int)? {
        let rank = dims.count
        guard rank > 0, aStrides[rank - 1] <= 1, bStrides[rank - 1] <= 1 else { return nil }
        guard rank > 1 else { return (1, 0, 1, 0, 0) }
        // Merge dimensions rank-3, rank-4, ... into rank-2 while each steps by the span of the
        // rows merged so far (size-1 dimensions always merge).
        let ra = aStrides[rank - 2], rb = bStrides[rank - 2]
        var first = rank - 2
        var rows = dims[rank - 2]
        while first > 0 {
            let d = first - 1
            guard dims[d] == 1 || (aStrides[d] == ra * rows && bStrides[d] == rb * rows) else { break }
            rows *= dims[d]
            first = d
        }
        let blocks = dims[..<first].reduce(1, *)
        return (blocks, first, rows, ra, rb)
    }
}

/// One executable step of a plan, operating on one image.
enum Step {
    case conv(Conv2DKernel, input: Operand, residual: Operand?, output: Operand)
    /// A 1×1 convolution and the depthwise one reading its output, over row bands (the
    /// intermediate map lives in the worker's scratch, one band at a time).
    case convBands(PointwiseDepthwiseBands, input: Operand, residual: Operand?, output: Operand)
    case pool(Pool2DKernel, input: Operand, output: Operand)
    case binary(BinaryKind, a: Operand, b: Operand, BroadcastPlan, output: Operand)
    case clamp(input: Operand, output: Operand, count: Int, min: Float, max: Float)
    /// y[i] = x[i] * scale[c] + shift[c], c = (i / inner) % channels.
    case channelAffine(input: Operand, output: Operand, count: Int, channels: Int, inner: Int, scale: [Float], shift: [Float])
    case relayout(input: Slot, output: Slot)
    case softmax(input: Slot, output: Slot, axis: Int)
    case matMul(a: Operand, b: Operand, rows: Int, inner: Int, columns: Int, output: Operand)
    case concat(inputs: [Slot], axis: Int, output: Slot)
    /// Sigmoid or SiLU on the SIMD kernels (layout-independent).
    case activation(ActivationKernel, input: Operand, output: Operand, count: Int)
    /// An element-wise function (layout-independent).
    case unary(UnaryFunction, input: Operand, output: Operand, count: Int)
    /// Element-wise nodes with scalar constants over one value in one pass (`ElementwiseChainKernel`).
    case chain(ElementwiseChainKernel, input: Operand, output: Operand, count: Int)
    /// ShuffleNet's channel shuffle on NHWC pixels (`LayoutKernel.channelShuffle`).
    case channelShuffle(input: Operand, output: Operand, pixels: Int, groups: Int, channelsPerGroup: Int)
    /// `rows` runs of `count` floats from input row r at r·inStride + inOffset, packed in the output
    /// (a channel range of NHWC pixels: Slice on the channel axis).
    case copyRows(input: Operand, output: Operand, rows: Int, count: Int, inStride: Int, inOffset: Int)
    /// A general operator on row-major operands.
    case general(GeneralOp, inputs: [Operand], outputs: [Operand])
    /// An integer step of an INT8 plan, addressing its tensors through the plan's `Int8Memory`.
    case int8(Int8Step)
    /// FP32 nodes inside an INT8 plan, in a workspace of its arena (`FloatIsland`).
    case floatIsland(FloatIslandStep)
}
