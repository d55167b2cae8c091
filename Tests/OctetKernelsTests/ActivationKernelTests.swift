import Foundation
import OctetTestSupport
import XCTest

/// Sigmoid and SiLU kernels: every SIMD path equals the scalar twin bit for bit (lengths across
/// the vector widths, saturation extremes, ±inf, NaN), and the twin is within 3e-7 relative of
/// the definition computed in Double (1e-35 absolute where e^-x leaves the float range).
final class ActivationKernelTests: XCTestCase {
    func testSigmoidAndSiLUPathsMatchScalarTwinAndDefinition() {
        var r = TestRandom(seed: 21)
        let specials: [Float] = [0, -0, 88.37, -88.37, 88.4, -88.4, 100, -100, 1e-30, -1e-30, .infinity, -.infinity, .nan, 17, -17, 0.5]
        for trial in 0..<200 {
            let n = trial < 70 ? trial : r.int(1...300)
            var x = (0..<n).map { _ in r.floats(1, -30, 30)[0] }
            if trial % 3 == 0 { for i in x.indices where r.bool() { x[i] = specials[r.int(0...(specials.count - 1))] } }
            for kind in [ActivationKernel.Kind.sigmoid, .silu] {
                let twin = run(ActivationKernel(kind, isa: .scalar), x)
                for (i, v) in x.enumerated() {
                    let s = 1 / (1 + exp(-Double(v)))
                    let want = kind == .sigmoid ? s : Double(v) * s
                    if v.isNaN { XCTAssertTrue(twin[i].isNaN); continue }
                    if want.isInfinite || v.isInfinite { if kind == .sigmoid { XCTAssertEqual(Double(twin[i]), want) }; continue }
                    XCTAssertEqual(Double(twin[i]), want, accuracy: 3e-7 * abs(want) + 1e-35, "\(kind) of \(v)")
                }
                for isa in ISA.supported where isa != .scalar {
                    let got = run(ActivationKernel(kind, isa: isa), x)
                    for i in x.indices where !(got[i].bitPattern == twin[i].bitPattern || (got[i].isNaN && twin[i].isNaN)) {
                        XCTFail("\(kind) \(isa) of \(x[i]) (n \(n), index \(i)): \(got[i]) vs scalar \(twin[i])")
                    }
                }
            }
        }
    }

    func run(_ k: ActivationKernel, _ x: [Float]) -> [Float] {
        guard !x.isEmpty else { return [] }
        var y = [Float](repeating: 12345, count: x.count)
        x.withUnsafeBufferPointer { s in y.withUnsafeMutableBufferPointer { k.run(s.baseAddress!, $0.baseAddress!, count: x.count) } }
        return y
    }

    func testHardSigmoidAndHardSwishPathsMatchScalarTwinAndDefinition() {
        var r = TestRandom(seed: 22)
        for trial in 0..<150 {
            let n = trial < 40 ? trial : r.int(1...200)
            var x = r.floats(n, -8, 8)
            if trial % 4 == 0 { for i in x.indices where r.bool() { x[i] = [Float.nan, .infinity, -.infinity, 3, -3, 0, 2.5][r.int(0...6)] } }
            let alpha = trial % 2 == 0 ? Float(0.2) : 1 / 6, beta: Float = 0.5
            for kind in [ActivationKernel.Kind.hardSwish, .hardSigmoid(alpha: alpha, beta: beta)] {
                let twin = run(ActivationKernel(kind, isa: .scalar), x)
                for (i, v) in x.enumerated() {
                    // The ONNX definition, in Float as the ONNX reference evaluates it.
                    let hs = kind == .hardSwish ? UnaryFunction.hardSwish.apply(v) : UnaryFunction.hardSigmoid(alpha: alpha, beta: beta).apply(v)
                    if hs.isNaN { XCTAssertTrue(twin[i].isNaN, "\(kind) of \(v)"); continue }
                    XCTAssertEqual(twin[i], hs, accuracy: 1e-6 * max(1, abs(hs)), "\(kind) of \(v)")
                }
                for isa in ISA.supported where isa != .scalar {
                    let got = run(ActivationKernel(kind, isa: isa), x)
                    for i in x.indices where !(got[i].bitPattern == twin[i].bitPattern || (got[i].isNaN && twin[i].isNaN)) {
                        XCTFail("\(kind) \(isa) of \(x[i]): \(got[i]) vs scalar \(twin[i])")
                    }
                }
            }
        }
    }
}
