import CKernels

/// Bilinear Resize of the height and width of one NHWC image of u8 codes (ONNX Resize, mode
/// `linear`), computed on the codes: a convex combination of codes dequantizes to the same
/// combination of values, so the output keeps the input's quantization parameters.
///
/// Each output column (row) blends two source columns (rows) with the second one's weight
/// rounded to 1/2048: columns first, `top = (2048 − fx)·a + fx·b`, then rows,
/// `((2048 − fy)·top + fy·bottom + 2^21) >> 22` (rounding half up). That is within 0.13 code of
/// the exact blend, so within one code of rounding it, and it is integer arithmetic, so every
/// path gives the scalar loop's bytes.
public struct BilinearResizeKernel: Sendable {
    public let inWidth: Int, channels: Int
    let row0: [Int32], row1: [Int32], rowFraction: [Int16]
    let column0: [Int32], column1: [Int32], columnFraction: [Int16]

    public var outHeight: Int { row0.count }
    public var outWidth: Int { column0.count }

    /// `rows` and `columns`: each output row's (column's) two source rows and the weight of the
    /// second, in [0, 1] (`FloatSemantics.resizeAxis`).
    public init(inWidth: Int, channels: Int, rows: (lower: [Int], upper: [Int], weight: [Float]),
                columns: (lower: [Int], upper: [Int], weight: [Float])) {
        func fraction(_ w: Float) -> Int16 { Int16(min(max((w * 2048).rounded(), 0), 2048)) }
        self.inWidth = inWidth
        self.channels = channels
        row0 = rows.lower.map { Int32($0) }
        row1 = rows.upper.map { Int32($0) }
        rowFraction = rows.weight.map(fraction)
        column0 = columns.lower.map { Int32($0) }
        column1 = columns.upper.map { Int32($0) }
        columnFraction = columns.weight.map(fraction)
    }

    /// Resizes `input` (inHeight × inWidth × channels codes, every source row index in range)
    /// into `output` (outHeight × outWidth × channels).
    public func run(input: UnsafePointer<UInt8>, output: UnsafeMutablePointer<UInt8>, isa: ISA) {
        row0.withUnsafeBufferPointer { r0 in row1.withUnsafeBufferPointer { r1 in
            column0.withUnsafeBufferPointer { c0 in column1.withUnsafeBufferPointer { c1 in
                rowFraction.withUnsafeBufferPointer { fy in columnFraction.withUnsafeBufferPointer { fx in
                    var p = ck_resize_bilinear_u8_params(
                        in_w: inWidth, channels: channels, out_h: row0.count, out_w: column0.count,
                        row0: r0.baseAddress, row1: r1.baseAddress, col0: c0.baseAddress, col1: c1.baseAddress,
                        row_frac: fy.baseAddress, col_frac: fx.baseAddress)
                    isa.kernels.pointee.resize_bilinear_u8(&p, input, output)
                }}
            }}
        }}
    }
}
