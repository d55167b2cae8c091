import OctetTestSupport
import XCTest

/// The C row kernels (binary ops with broadcast strides, affine, clamp) and the tiled transpose:
/// the scalar twin equals the definition (`BinaryFunction.apply`, IEEE + and ×) and every SIMD
/// path equals the twin bit for bit, over lengths across the 8/16-float vectors, every stride
/// pattern, several rows, and special values (±0, ±inf, NaN, equal operands).
final class ElementwiseKernelTests: XCTestCase {
    static let specials: [Float] = [0, -0, .infinity, -.infinity, .nan, 1, -1, 3.5e38, -3.5e38, 1e-40]

    func values(_ r: inout TestRandom, _ n: Int, special: Bool) -> [Float] {
        var x = r.floats(n, -4, 4)
        if special { for i in x.indices where r.int(0...2) == 0 { x[i] = Self.specials[r.int(0...(Self.specials.count - 1))] } }
        return x
    }

    func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    func definition(_ op: BinaryRowKernel.Operation, _ a: Float, _ b: Float) -> Float {
        switch op {
        case .add: a + b
        case .mul: a * b
        case .sub: BinaryFunction.sub.apply(a, b)
        case .div: BinaryFunction.div.apply(a, b)
        case .max: BinaryFunction.max.apply(a, b)
        case .min: BinaryFunction.min.apply(a, b)
        case .prelu: BinaryFunction.prelu.apply(a, b)
        }
    }

    func testBinaryPathsMatchScalarTwinAndDefinition() {
        var r = TestRandom(seed: 41)
        let strides = [(1, 1), (1, 0), (0, 1), (0, 0), (2, 1), (1, 3)]
        var checked = 0
        for trial in 0..<240 {
            let n = trial < 40 ? trial : r.int(1...70)
            let rows = r.int(1...3)
            let (sa, sb) = strides[trial % strides.count]
            // Row strides: contiguous rows, or rows that repeat (a broadcast over rows).
            let ra = r.bool() ? max(n * sa, 1) : 0, rb = r.bool() ? max(n * sb, 1) : 0
            let a = values(&r, max(rows * max(ra, 1), 1) + max(n * sa, 1), special: trial % 3 == 0)
            let b = values(&r, max(rows * max(rb, 1), 1) + max(n * sb, 1), special: trial % 4 == 0)
            for op in BinaryRowKernel.Operation.allCases {
                // Equal operands (Max/Min ties of ±0) in some trials.
                let bb = trial % 5 == 0 ? a.count >= b.count ? Array(a.prefix(b.count)) : b : b
                let twin = run(BinaryRowKernel(op, isa: .scalar), rows, n, a, ra, sa, bb, rb, sb)
                for row in 0..<rows {
                    for i in 0..<n {
                        let want = definition(op, a[row * ra + i * sa], bb[row * rb + i * sb])
                        let got = twin[row * n + i]
                        let ok = op == .max || op == .min ? got.bitPattern == want.bitPattern || (got.isNaN && want.isNaN && got.bitPattern == Float.nan.bitPattern) : same(got, want)
                        if !ok { XCTFail("\(op) scalar row \(row) i \(i): \(got) vs definition \(want)"); return }
                    }
                }
                for isa in ISA.supported where isa != .scalar {
                    let got = run(BinaryRowKernel(op, isa: isa), rows, n, a, ra, sa, bb, rb, sb)
                    for i in got.indices where !same(got[i], twin[i]) || (got[i].isNaN && got[i].bitPattern != twin[i].bitPattern && (op == .max || op == .min)) {
                        XCTFail("\(op) \(isa) n \(n) rows \(rows) strides (\(ra),\(sa)) (\(rb),\(sb)) index \(i): \(got[i]) vs scalar \(twin[i])")
                        return
                    }
                    checked += 1
                }
            }
        }
        if ISA.supported.count > 1 { XCTAssertGreaterThan(checked, 0) }
    }

    func run(_ k: BinaryRowKernel, _ rows: Int, _ n: Int, _ a: [Float], _ ra: Int, _ sa: Int, _ b: [Float], _ rb: Int, _ sb: Int) -> [Float] {
        var y = [Float](repeating: 12345, count: rows * n + 1)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                y.withUnsafeMutableBufferPointer { py in
                    k.run(rows: rows, count: n, pa.baseAddress!, aRowStride: ra, aStride: sa, pb.baseAddress!, bRowStride: rb, bStride: sb, py.baseAddress!)
                }
            }
        }
        XCTAssertEqual(y[rows * n], 12345, "\(k) wrote past the end")
        return Array(y.prefix(rows * n))
    }

    func testAffineAndClampPathsMatchScalarTwinAndDefinition() {
        var r = TestRandom(seed: 42)
        for trial in 0..<150 {
            let n = trial < 40 ? trial : r.int(1...90)
            let x = values(&r, max(n, 1), special: trial % 3 == 0)
            let perElement = trial % 2 == 0
            let scale = values(&r, max(n, 1), special: trial % 5 == 0), shift = values(&r, max(n, 1), special: false)
            let (ss, st) = perElement ? (1, 1) : (0, 0)
            let lo: Float = trial % 4 == 0 ? 0 : -1.5, hi: Float = trial % 4 == 0 ? .infinity : 6
            var twinAffine = [Float](), twinClamp = [Float]()
            for isa in [ISA.scalar] + ISA.supported.filter({ $0 != .scalar }) {
                var ya = [Float](repeating: 7, count: n + 1), yc = [Float](repeating: 7, count: n + 1)
                x.withUnsafeBufferPointer { px in
                    scale.withUnsafeBufferPointer { ps in
                        shift.withUnsafeBufferPointer { pt in
                            ya.withUnsafeMutableBufferPointer {
                                RowKernels.affine(count: n, px.baseAddress!, scale: ps.baseAddress!, scaleStride: ss, shift: pt.baseAddress!,
                                                  shiftStride: st, $0.baseAddress!, isa: isa)
                            }
                        }
                    }
                    yc.withUnsafeMutableBufferPointer { RowKernels.clamp(count: n, px.baseAddress!, min: lo, max: hi, $0.baseAddress!, isa: isa) }
                }
                XCTAssertEqual(ya[n], 7); XCTAssertEqual(yc[n], 7)
                if isa == .scalar {
                    twinAffine = Array(ya.prefix(n)); twinClamp = Array(yc.prefix(n))
                    for i in 0..<n {
                        let m = x[i] * scale[i * ss]
                        XCTAssertTrue(same(twinAffine[i], m + shift[i * st]), "affine of \(x[i])")
                        let c = x[i].isNaN ? x[i] : Swift.min(Swift.max(x[i], lo), hi)
                        XCTAssertTrue(same(twinClamp[i], c) || (x[i] == 0 && twinClamp[i] == 0), "clamp of \(x[i]): \(twinClamp[i])")
                    }
                } else {
                    for i in 0..<n where !same(ya[i], twinAffine[i]) { XCTFail("affine \(isa) of \(x[i]): \(ya[i]) vs \(twinAffine[i])"); return }
                    for i in 0..<n where !same(yc[i], twinClamp[i]) { XCTFail("clamp \(isa) of \(x[i]): \(yc[i]) vs \(twinClamp[i])"); return }
                }
            }
        }
    }

    func testTransposeMatchesTheDefinition() {
        var r = TestRandom(seed: 43)
        for trial in 0..<120 {
            let rows = trial < 20 ? trial + 1 : r.int(1...70), cols = trial < 20 ? 17 : r.int(1...70)
            let src = r.floats(rows * cols, -9, 9)
            var dst = [Float](repeating: .nan, count: rows * cols + 1)
            src.withUnsafeBufferPointer { s in dst.withUnsafeMutableBufferPointer { LayoutKernel.transpose(s.baseAddress!, rows: rows, cols: cols, into: $0.baseAddress!) } }
            for rr in 0..<rows { for c in 0..<cols where dst[c * rows + rr] != src[rr * cols + c] { XCTFail("\(rows)x\(cols) at \(rr),\(c)"); return } }
            XCTAssertTrue(dst[rows * cols].isNaN, "wrote past the end")
        }
    }
}

/// The element-wise chain kernel equals its instructions run one by one through the row kernels
/// (the unfused nodes), bit for bit, on every path, across block and vector edges.
final class ElementwiseChainKernelTests: XCTestCase {
    func testChainEqualsTheUnfusedRowKernels() {
        var r = TestRandom(seed: 44)
        let ops = BinaryRowKernel.Operation.allCases
        for trial in 0..<120 {
            let n = [0, 1, 15, 16, 17, 1023, 1024, 1025, 2500][trial % 9] + (trial > 40 ? r.int(0...40) : 0)
            var x = r.floats(max(n, 1), -5, 5)
            if trial % 4 == 0 { for i in x.indices where r.int(0...5) == 0 { x[i] = [Float.nan, .infinity, -.infinity, 0, -0][r.int(0...4)] } }
            var program: [ElementwiseChainKernel.Instruction] = []
            for _ in 0..<r.int(1...5) {
                switch r.int(0...2) {
                case 0: program.append(.constant(ops[r.int(0...(ops.count - 1))], r.floats(1, -3, 3)[0] + 0.25, reversed: r.bool()))
                case 1: program.append(.input(ops[r.int(0...(ops.count - 1))], reversed: r.bool()))
                default: program.append(.clamp(min: -1.5, max: r.bool() ? 6 : .infinity))
                }
            }
            // The unfused reference: each instruction a scalar row kernel over the whole tensor.
            var v = Array(x.prefix(n))
            for instruction in program {
                var out = [Float](repeating: 0, count: n)
                guard n > 0 else { break }
                v.withUnsafeBufferPointer { pv in
                    x.withUnsafeBufferPointer { px in
                        out.withUnsafeMutableBufferPointer { po in
                            switch instruction {
                            case .clamp(let lo, let hi):
                                RowKernels.clamp(count: n, pv.baseAddress!, min: lo, max: hi, po.baseAddress!, isa: .scalar)
                            case .constant(let op, let c, let reversed):
                                withUnsafePointer(to: c) { pc in
                                    let k = BinaryRowKernel(op, isa: .scalar)
                                    if reversed { k.run(count: n, pc, aStride: 0, pv.baseAddress!, bStride: 1, po.baseAddress!) }
                                    else { k.run(count: n, pv.baseAddress!, aStride: 1, pc, bStride: 0, po.baseAddress!) }
                                }
                            case .input(let op, let reversed):
                                let k = BinaryRowKernel(op, isa: .scalar)
                                if reversed { k.run(count: n, px.baseAddress!, aStride: 1, pv.baseAddress!, bStride: 1, po.baseAddress!) }
                                else { k.run(count: n, pv.baseAddress!, aStride: 1, px.baseAddress!, bStride: 1, po.baseAddress!) }
                            }
                        }
                    }
                }
                v = out
            }
            for isa in ISA.supported {
                var y = [Float](repeating: 777, count: n + 1)
                x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { ElementwiseChainKernel(program, isa: isa).run(px.baseAddress!, $0.baseAddress!, count: n) } }
                XCTAssertEqual(y[n], 777, "\(isa) wrote past the end")
                for i in 0..<n where !(y[i].bitPattern == v[i].bitPattern || (y[i].isNaN && v[i].isNaN)) {
                    XCTFail("\(isa) n \(n) \(program) index \(i) of \(x[i]): \(y[i]) vs unfused \(v[i])")
                    break
                }
            }
        }
    }
}
