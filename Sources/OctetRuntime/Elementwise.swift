import Foundation
import OctetCore
import OctetIR
import OctetKernels

/// The executor's non-convolution arithmetic: broadcasting binary ops, layout changes,
/// softmax and concatenation. Exact IEEE float operations, no fast-math.
enum Elementwise {
    static func binary(_ kind: BinaryKind, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
                       _ plan: BroadcastPlan, _ y: UnsafeMutablePointer<Float>) {
        let count = plan.count
        let contiguous = plan.aStrides == Shape(plan.dims).strides && plan.bStrides == plan.aStrides
        if contiguous, let k = plan.rowKernel {
            k.run(count: count, a, aStride: 1, b, bStride: 1, y)
            return
        }
        if contiguous {
            switch kind {
            case .add: for i in 0..<count { y[i] = a[i] + b[i] }
            case .mul: for i in 0..<count { y[i] = a[i] * b[i] }
            case .function(let f): for i in 0..<count { y[i] = f.apply(a[i], b[i]) }
            }
            return
        }
        if let k = plan.rowKernel, let rows = plan.rowBlocks() {
            // Rows of the innermost dimension, the outer dimensions that step evenly merged into
            // one C call per block.
            let rank = plan.dims.count, inner = plan.dims[rank - 1]
            let sa = plan.aStrides[rank - 1], sb = plan.bStrides[rank - 1]
            let outerRank = rows.outerRank
            var index = [Int](repeating: 0, count: outerRank)
            var ia = 0, ib = 0
            for block in 0..<rows.blocks {
                k.run(rows: rows.rows, count: inner, a + ia, aRowStride: rows.aRowStride, aStride: sa,
                      b + ib, bRowStride: rows.bRowStride, bStride: sb, y + block * rows.rows * inner)
                var d = outerRank - 1
                while d >= 0 {
                    index[d] += 1; ia += plan.aStrides[d]; ib += plan.bStrides[d]
                    if index[d] < plan.dims[d] { break }
                    ia -= plan.aStrides[d] * plan.dims[d]; ib -= plan.bStrides[d] * plan.dims[d]
                    index[d] = 0; d -= 1
                }
            }
            return
        }
        // Row by row when each operand's innermost stride is 0 or 1 (a per-channel scale on NHWC,
        // a per-row scalar on row-major, a residual): tight inner loops, the same arithmetic.
        let rank0 = plan.dims.count
        if rank0 > 0, plan.aStrides[rank0 - 1] <= 1, plan.bStrides[rank0 - 1] <= 1 {
            let inner = plan.dims[rank0 - 1], sa = plan.aStrides[rank0 - 1], sb = plan.bStrides[rank0 - 1]
            let rows = plan.dims.dropLast().reduce(1, *)
            var index = [Int](repeating: 0, count: max(rank0 - 1, 0))
            var ia = 0, ib = 0
            for r in 0..<rows {
                let yr = y + r * inner, ar = a + ia, br = b + ib
                if let k = plan.rowKernel {
                    k.run(count: inner, ar, aStride: sa, br, bStride: sb, yr)
                } else {
                    switch (kind, sa, sb) {
                    case (.add, 1, 1): for j in 0..<inner { yr[j] = ar[j] + br[j] }
                    case (.add, 1, 0): let v = br[0]; for j in 0..<inner { yr[j] = ar[j] + v }
                    case (.add, 0, 1): let v = ar[0]; for j in 0..<inner { yr[j] = v + br[j] }
                    case (.mul, 1, 1): for j in 0..<inner { yr[j] = ar[j] * br[j] }
                    case (.mul, 1, 0): let v = br[0]; for j in 0..<inner { yr[j] = ar[j] * v }
                    case (.mul, 0, 1): let v = ar[0]; for j in 0..<inner { yr[j] = v * br[j] }
                    case (.function(let f), 1, 1): for j in 0..<inner { yr[j] = f.apply(ar[j], br[j]) }
                    case (.function(let f), 1, 0): let v = br[0]; for j in 0..<inner { yr[j] = f.apply(ar[j], v) }
                    case (.function(let f), 0, 1): let v = ar[0]; for j in 0..<inner { yr[j] = f.apply(v, br[j]) }
                    case (.add, _, _): for j in 0..<inner { yr[j] = ar[j * sa] + br[j * sb] }
                    case (.mul, _, _): for j in 0..<inner { yr[j] = ar[j * sa] * br[j * sb] }
                    case (.function(let f), _, _): for j in 0..<inner { yr[j] = f.apply(ar[j * sa], br[j * sb]) }
                    }
                }
                var d = rank0 - 2
                while d >= 0 {
                    index[d] += 1; ia += plan.aStrides[d]; ib += plan.bStrides[d]
                    if index[d] < plan.dims[d] { break }
                    ia -= plan.aStrides[d] * plan.dims[d]; ib -= plan.bStrides[d] * plan.dims[d]
                    index[d] = 0; d -= 1
                }
            }
            return
        }
        let rank = plan.dims.count
        var index = [Int](repeating: 0, count: rank)
        var ia = 0, ib = 0
        for i in 0..<count {
            switch kind {
            case .add: y[i] = a[ia] + b[ib]
            case .mul: y[i] = a[ia] * b[ib]
            case .function(let f): y[i] = f.apply(a[ia], b[ib])
            }
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                ia += plan.aStrides[d]
                ib += plan.bStrides[d]
                if index[d] < plan.dims[d] { break }
                ia -= plan.aStrides[d] * plan.dims[d]
                ib -= plan.bStrides[d] * plan.dims[d]
                index[d] = 0
                d -= 1
            }
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

    /// Numerically stable softmax along `axis` of the logical shape.
    static func softmax(_ x: Slot, _ y: Slot, axis: Int, _ base: UnsafeMutablePointer<Float>) {
        let count = x.count
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { tmp.deallocate() }
        LayoutConversion.toRowMajor(x.operand.pointer(base), shape: x.shape, layout: x.layout, into: tmp)
        let n = x.shape[axis], inner = x.shape.dims[(axis + 1)...].reduce(1, *)
        let outer = count / max(n * inner, 1)
        for o in 0..<outer {
            for i in 0..<inner {
                let start = o * n * inner + i
                var m = -Float.infinity
                for k in 0..<n { m = max(m, tmp[start + k * inner]) }
                var sum: Float = 0
                for k in 0..<n { let e = expf(tmp[start + k * inner] - m); tmp[start + k * inner] = e; sum += e }
                for k in 0..<n { tmp[start + k * inner] /= sum }
            }
        }
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
