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
        switch isa {
        case .avx512vnni, .avx512: ck_binary_f32__avx512(op, rows, count, a, aRowStride, aStride, b, bRowStride, bStride, y)
        case .avx2: ck_binary_f32__avx2(op, rows, count, a, aRowStride, aStride, b, bRowStride, bStride, y)
        case .scalar: ck_binary_f32__scalar(op, rows, count, a, aRowStride, aStride, b, bRowStride, bStride, y)
        }
    }
}

/// Row kernels with one input: the affine `x·scale + shift` and the clamp.
public enum RowKernels {
    /// y[i] = x[i]·scale[i·scaleStride] + shift[i·shiftStride] (a multiply then an add, never fused).
    public static func affine(count: Int, _ x: UnsafePointer<Float>, scale: UnsafePointer<Float>, scaleStride: Int,
                              shift: UnsafePointer<Float>, shiftStride: Int, _ y: UnsafeMutablePointer<Float>, isa: ISA) {
        switch isa {
        case .avx512vnni, .avx512: ck_affine_f32__avx512(count, x, scale, scaleStride, shift, shiftStride, y)
        case .avx2: ck_affine_f32__avx2(count, x, scale, scaleStride, shift, shiftStride, y)
        case .scalar: ck_affine_f32__scalar(count, x, scale, scaleStride, shift, shiftStride, y)
        }
    }

    /// y[i] = min(hi, max(lo, x[i])), NaN kept.
    public static func clamp(count: Int, _ x: UnsafePointer<Float>, min lo: Float, max hi: Float,
                             _ y: UnsafeMutablePointer<Float>, isa: ISA) {
        switch isa {
        case .avx512vnni, .avx512: ck_clamp_f32__avx512(count, x, lo, hi, y)
        case .avx2: ck_clamp_f32__avx2(count, x, lo, hi, y)
        case .scalar: ck_clamp_f32__scalar(count, x, lo, hi, y)
        }
    }
}
