import Foundation
import OctetCore

/// The executor's non-convolution arithmetic: broadcasting binary ops, layout changes,
/// softmax and concatenation. Exact IEEE float operations, no fast-math.
enum Elementwise {
    static func binary(_ kind: BinaryKind, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
                       _ plan: BroadcastPlan, _ y: UnsafeMutablePointer<Float>) {
        let count = plan.count
        let contiguous = plan.aStrides == Shape(plan.dims).strides && plan.bStrides == plan.aStrides
        if contiguous {
            switch kind {
            case .add: for i in 0..<count { y[i] = a[i] + b[i] }
            case .mul: for i in 0..<count { y[i] = a[i] * b[i] }
            }
            return
        }
        let rank = plan.dims.count
        var index = [Int](repeating: 0, count: rank)
        var ia = 0, ib = 0
        for i in 0..<count {
            y[i] = kind == .add ? a[ia] + b[ib] : a[ia] * b[ib]
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
