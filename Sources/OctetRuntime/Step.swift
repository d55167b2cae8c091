import OctetCore
import OctetIR
import OctetKernels

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
}

/// Element-wise binary op over physical (row-major) dimensions with broadcast strides.
struct BroadcastPlan {
    var dims: [Int]
    var aStrides: [Int]
    var bStrides: [Int]
    var count: Int { dims.reduce(1, *) }
}

/// One executable step of a plan, operating on one image.
enum Step {
    case conv(Conv2DKernel, input: Operand, residual: Operand?, output: Operand)
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
    /// A general operator on row-major operands.
    case general(GeneralOp, inputs: [Operand], outputs: [Operand])
}
