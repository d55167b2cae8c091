import OctetCore
import OctetKernels

/// Conversions between a value's physical layout and plain row-major order of its logical shape.
enum LayoutConversion {
    /// Copies `count` elements of a value stored in `layout` into row-major order.
    static func toRowMajor(_ src: UnsafePointer<Float>, shape: Shape, layout: PhysicalLayout, into dst: UnsafeMutablePointer<Float>) {
        switch layout {
        case .rowMajor: dst.update(from: src, count: shape.elementCount)
        case .nhwc:
            let (n, c, hw) = (shape[0], shape[1], shape[2] * shape[3])
            for b in 0..<n {
                LayoutKernel.transpose(src + b * c * hw, rows: hw, cols: c, into: dst + b * c * hw)
            }
        }
    }

    /// Copies row-major elements into `layout`.
    static func fromRowMajor(_ src: UnsafePointer<Float>, shape: Shape, layout: PhysicalLayout, into dst: UnsafeMutablePointer<Float>) {
        switch layout {
        case .rowMajor: dst.update(from: src, count: shape.elementCount)
        case .nhwc:
            let (n, c, hw) = (shape[0], shape[1], shape[2] * shape[3])
            // Data movement only: the fastest path gives the same bytes as any other.
            for b in 0..<n { LayoutKernel.nchwToNHWC(src + b * c * hw, channels: c, pixels: hw, into: dst + b * c * hw, isa: .best) }
        }
    }

    /// The layout a value of `shape` gets: NHWC for rank 4, row-major otherwise.
    static func layout(for shape: Shape) -> PhysicalLayout { shape.rank == 4 ? .nhwc : .rowMajor }

    /// Physical dims (row-major order of storage) of a logical shape in `layout`.
    static func physicalDims(_ shape: Shape, _ layout: PhysicalLayout) -> [Int] {
        layout == .nhwc ? [shape[0], shape[2], shape[3], shape[1]] : shape.dims
    }
}
