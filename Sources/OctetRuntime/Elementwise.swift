import Foundation
import OctetCore
import OctetIR
import OctetKernels

/// The executor's non-convolution arithmetic: broadcasting binary ops, layout changes,
/// softmax and concatenation. Exact IEEE float operations, no fast-math.
enum Elementwise {
    static func binary(_ kind: BinaryKind, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
                       _ plan: BroadcastPlan, _ y: UnsafeMutablePointer<Float>) {
        guard let rows = plan.rowBlocks() else {
            // An operand whose innermost stride is neither 0 nor 1: element by element.
            let rank = plan.dims.count
            var index = [Int](repeating: 0, count: rank)
            var ia = 0, ib = 0
            for i in 0..<plan.count {
                y[i] = apply(kind, a[ia], b[ib])
                var d = rank - 1
                while d >= 0 {
                    index[d] += 1; ia += plan.aStrides[d]; ib += plan.bStrides[d]
                    if index[d] < plan.dims[d] { break }
                    ia -= plan.aStrides[d] * plan.dims[d]; ib -= plan.bStrides[d] * plan.dims[d]
                    index[d] = 0; d -= 1
                }
            }
            return
        }
        // Rows of the innermost dimension; the outer dimensions that step evenly are merged into
        // one block of rows, one C call per block (a Swift loop for ops without a row kernel).
        let rank = plan.dims.count, inner = rank > 0 ? plan.dims[rank - 1] : 1
        let sa = rank > 0 ? plan.aStrides[rank - 1] : 0, sb = rank > 0 ? plan.bStrides[rank - 1] : 0
        var index = [Int](repeating: 0, count: rows.outerRank)
        var ia = 0, ib = 0
        for block in 0..<rows.blocks {
            let yb = y + block * rows.rows * inner
            if let k = plan.rowKernel {
                k.run(rows: rows.rows, count: inner, a + ia, aRowStride: rows.aRowStride, aStride: sa,
                      b + ib, bRowStride: rows.bRowStride, bStride: sb, yb)
            } else {
                for r in 0..<rows.rows {
                    let ar = a + ia + r * rows.aRowStride, br = b + ib + r * rows.bRowStride, yr = yb + r * inner
                    for j in 0..<inner { yr[j] = apply(kind, ar[j * sa], br[j * sb]) }
                }
            }
            var d = rows.outerRank - 1
            while d >= 0 {
                index[d] += 1; ia += plan.aStrides[d]; ib += plan.bStrides[d]
                if index[d] < plan.dims[d] { break }
                ia -= plan.aStrides[d] * plan.dims[d]; ib -= plan.bStrides[d] * plan.dims[d]
                index[d] = 0; d -= 1
            }
        }
    }

    /// The op's definition on one pair (the Swift path of ops without a row kernel).
    @inline(__always)
    static func apply(_ kind: BinaryKind, _ a: Float, _ b: Float) -> Float {
        switch kind {
        case .add: a + b
        case .mul: a * b
        case .function(let f): f.apply(a, b)
        }
    }

    /// y = f(x) element-wise, by the definition in `UnaryFunction.apply`.
    static func unary(_ f: UnaryFunction, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch f {
        // Sigmoid, HardSigmoid and HardSwish run on the C kernels (`ActivationKernel`).
        default: for i in 0..<count { y[i] = f.apply(x[i]) }
        }
    }

    /// Copies a value into another shape/layout with the same row-major element order
    /// (Flatten, Reshape, Identity).
    static func relayout(_ x: Slot, _ y: Slot, _ base: UnsafeMutablePointer<Float>) {
        let src = x.operand.pointer(base), dst = y.operand.pointer(base)
        if x.layout == .rowMajor && y.layout == .rowMajor {
            if src != dst { dst.update(from: src, count: x.count) }
            return
        }
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: x.count)
        defer { tmp.deallocate() }
        LayoutConversion.toRowMajor(src, shape: x.shape, layout: x.layout, into: tmp)
        LayoutConversion.fromRowMajor(tmp, shape: y.shape, layout: y.layout, into: dst)
    }

    /// Numerically stable softmax along `axis` of the logical shape (`SoftmaxKernel`), on the
    /// row-major values (a channel softmax of NHWC values is converted: its rows side by side
    /// fill the vector lanes, its few channels per pixel would not).
    static func softmax(_ x: Slot, _ y: Slot, axis: Int, _ base: UnsafeMutablePointer<Float>, isa: ISA) {
        let count = x.count
        let n = x.shape[axis], inner = x.shape.dims[(axis + 1)...].reduce(1, *)
        let outer = count / max(n * inner, 1)
        if x.layout == .rowMajor && y.layout == .rowMajor {
            SoftmaxKernel.run(x.operand.pointer(base), y.operand.pointer(base), outer: outer, n: n, inner: inner, isa: isa)
            return
        }
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { tmp.deallocate() }
        LayoutConversion.toRowMajor(x.operand.pointer(base), shape: x.shape, layout: x.layout, into: tmp)
        SoftmaxKernel.run(tmp, tmp, outer: outer, n: n, inner: inner, isa: isa)
        LayoutConversion.fromRowMajor(tmp, shape: y.shape, layout: y.layout, into: y.operand.pointer(base))
    }

    static func concat(_ xs: [Slot], axis: Int, _ y: Slot, _ base: UnsafeMutablePointer<Float>) {
        // Channels of NHWC values: each pixel's channel runs copied in place.
        if axis == 1, y.layout == .nhwc, xs.allSatisfy({ $0.layout == .nhwc }) {
            let pixels = y.shape[0] * y.shape[2] * y.shape[3], total = y.shape[1]
            let dst = y.operand.pointer(base)
            var offset = 0
            for x in xs {
                let c = x.shape[1], src = x.operand.pointer(base)
                for p in 0..<pixels { (dst + p * total + offset).update(from: src + p * c, count: c) }
                offset += c
            }
            return
        }
        let out = UnsafeMutablePointer<Float>.allocate(capacity: y.count)
        defer { out.deallocate() }
        let outer = y.shape.dims[..<axis].reduce(1, *)
        var offset = 0
        for x in xs {
            let tmp = UnsafeMutablePointer<Float>.allocate(capacity: x.count)
            LayoutConversion.toRowMajor(x.operand.pointer(base), shape: x.shape, layout: x.layout, into: tmp)
            let chunk = x.shape.dims[axis...].reduce(1, *), total = y.shape.dims[axis...].reduce(1, *)
            for o in 0..<outer { (out + o * total + offset).update(from: tmp + o * chunk, count: chunk) }
            offset += chunk
            tmp.deallocate()
        }
        LayoutConversion.fromRowMajor(out, shape: y.shape, layout: y.layout, into: y.operand.pointer(base))
    }
}
