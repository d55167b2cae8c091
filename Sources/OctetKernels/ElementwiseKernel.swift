import CKernels

/// Broadcasting element-wise FP32 arithmetic over one row on the chosen ISA path: the binary ops
/// of the executor (Add, Sub, Mul, Div, Max, Min, PRelu), a per-channel affine (standalone
/// BatchNormalization) and the Relu/Clip clamp. Every path equals the scalar twin bit for bit
/// (see `ck_fp32.h`).
public struct BinaryRowKernel: Sendable, Equatable {
    /// The operations with a C kernel; `Max`/`Min` propagate NaN, `PRelu` is `a < 0 ? a·b : a`.
    public enum Operation: Int32, Sendable, CaseIterable {
        case add = 0, sub = 1, mul = 2, div = 3, max = 4, min = 5, prelu = 6
    }
    public let operation: Operation
    public let isa: ISA

    public init(_ operation: Operation, isa: ISA) {
        self.operation = operation
        self.isa = isa
    }

    /// y[r·count + i] = op(a[r·aRowStride + i·aStride], b[r·bRowStride + i·bStride]) for r in
    /// 0..<rows, i in 0..<count; element strides 0 or 1 run the SIMD loops, others the scalar one.
    public func run(rows: Int = 1, count: Int, _ a: UnsafePointer<Float>, aRowStride: Int = 0, aStride: Int,
                    _ b: UnsafePointer<Float>, bRowStride: Int = 0, bStride: Int, _ y: UnsafeMutablePointer<Float>) {
        let op = operation.rawValue
        isa.kernels.pointee.binary_f32(op, rows, count, a, aRowStride, aStride, b, bRowStride, bStride, y)
    }
}

/// Row kernels with one input: the affine `x·scale + shift` and the clamp.
public enum RowKernels {
    /// y[i] = x[i]·scale[i·scaleStride] + shift[i·shiftStride] (a multiply then an add, never fused).
    public static func affine(count: Int, _ x: UnsafePointer<Float>, scale: UnsafePointer<Float>, scaleStride: Int,
                              shift: UnsafePointer<Float>, shiftStride: Int, _ y: UnsafeMutablePointer<Float>, isa: ISA) {
        isa.kernels.pointee.affine_f32(count, x, scale, scaleStride, shift, shiftStride, y)
    }

    /// y[i] = min(hi, max(lo, x[i])), NaN kept.
    public static func clamp(count: Int, _ x: UnsafePointer<Float>, min lo: Float, max hi: Float,
                             _ y: UnsafeMutablePointer<Float>, isa: ISA) {
        isa.kernels.pointee.clamp_f32(count, x, lo, hi, y)
    }
}

/// A chain of element-wise operations over one tensor in one pass over cache-sized blocks, each
/// instruction the row kernel of the unfused node, so the same bits (see `ck_fp32.h`): e.g. the
/// HardSwish exporters write as `x · Clip(x + 3, 0, 6) / 6`.
public struct ElementwiseChainKernel: Sendable {
    /// One operation of the chain on the value so far `v`.
    public enum Instruction: Sendable, Equatable {
        /// v = op(v, constant), or op(constant, v) when `reversed`.
        case constant(BinaryRowKernel.Operation, Float, reversed: Bool)
        /// v = op(v, x) with x the chain's input, or op(x, v) when `reversed`.
        case input(BinaryRowKernel.Operation, reversed: Bool)
        /// v = min(hi, max(lo, v)).
        case clamp(min: Float, max: Float)
    }
    public let instructions: [Instruction]
    public let isa: ISA
    private let program: [ck_ew_instr]

    public init(_ instructions: [Instruction], isa: ISA) {
        self.instructions = instructions
        self.isa = isa
        program = instructions.map {
            switch $0 {
            case .constant(let op, let value, let reversed):
                ck_ew_instr(op: op.rawValue, operand: Int32(CK_EW_CONST), reversed: reversed ? 1 : 0, a: value, b: 0)
            case .input(let op, let reversed):
                ck_ew_instr(op: op.rawValue, operand: Int32(CK_EW_INPUT), reversed: reversed ? 1 : 0, a: 0, b: 0)
            case .clamp(let lo, let hi):
                ck_ew_instr(op: Int32(CK_EW_CLAMP), operand: Int32(CK_EW_CONST), reversed: 0, a: lo, b: hi)
            }
        }
    }

    /// y = the chain applied to x (`count` elements; y must not overlap x).
    public func run(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        program.withUnsafeBufferPointer { p in
            isa.kernels.pointee.ew_chain_f32(count, x, p.baseAddress, p.count, y)
        }
    }
}
