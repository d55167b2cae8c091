import Foundation
import OctetTestSupport
import XCTest

/// `SoftmaxKernel`: every variant this CPU has equals the scalar twin bit for bit over shapes
/// across the vector widths (inner 1, below, at and above 8 and 16; rows of 1…40), in place and
/// not, with ±inf, NaN and values whose exponentials leave float's range; and the twin is within
/// 1e-6 of ONNX's definition (`FloatSemantics.softmax`, Foundation's exp).
final class SoftmaxKernelTests: XCTestCase {
    func testEveryVariantGivesTheScalarTwinsBitsAndTheTwinTheDefinition() {
        var r = TestRandom(seed: 31)
        let variants = SoftmaxKernel.Variant.allCases.filter(\.isSupported)
        for missing in SoftmaxKernel.Variant.allCases where !missing.isSupported {
            print("note: this CPU lacks the \(missing) path; its softmax is not tested here")
        }
        let inners = [1, 2, 7, 8, 9, 15, 16, 17, 33]
        let specials: [Float] = [.infinity, -.infinity, .nan, 1e30, -1e30, 90, -90, 0, -0]
        for trial in 0..<240 {
            let outer = 1 + trial % 3, n = 1 + (trial * 7) % 40, inner = inners[trial % inners.count]
            let count = outer * n * inner
            var x = r.floats(count, trial % 5 == 0 ? -200 : -12, trial % 5 == 0 ? 200 : 12)
            let withSpecials = trial % 4 == 3
            if withSpecials { for i in x.indices where r.int(0...9) == 0 { x[i] = specials[r.int(0...(specials.count - 1))] } }
            let twin = run(x, outer: outer, n: n, inner: inner, .scalar, inPlace: false)
            if !withSpecials {
                var want = [Float](repeating: 0, count: count)
                FloatSemantics.softmax(x, outer: outer, n: n, inner: inner, log: false, into: &want)
                for i in 0..<count { XCTAssertEqual(twin[i], want[i], accuracy: 1e-6, "[\(outer), \(n), \(inner)] at \(i)") }
            }
            for variant in variants {
                for inPlace in [false, true] {
                    let got = run(x, outer: outer, n: n, inner: inner, variant, inPlace: inPlace)
                    for i in 0..<count where !(got[i].bitPattern == twin[i].bitPattern || (got[i].isNaN && twin[i].isNaN)) {
                        XCTFail("\(variant)\(inPlace ? " in place" : "") [\(outer), \(n), \(inner)] at \(i): \(got[i]) vs scalar \(twin[i])")
                        break
                    }
                }
            }
        }
    }

    /// A row with NaN gives NaN; one with +inf gives NaN where ONNX's definition does (inf − inf);
    /// terms far below the max are 0 and the rest still sum to 1.
    func testExtremeRows() {
        for variant in SoftmaxKernel.Variant.allCases where variant.isSupported {
            XCTAssertTrue(run([1, .nan, 2], outer: 1, n: 3, inner: 1, variant, inPlace: false).allSatisfy(\.isNaN), "\(variant)")
            XCTAssertEqual(run([0, -1000, 0], outer: 1, n: 3, inner: 1, variant, inPlace: false), [0.5, 0, 0.5], "\(variant)")
            XCTAssertEqual(run([-.infinity, 3], outer: 1, n: 2, inner: 1, variant, inPlace: false), [0, 1], "\(variant)")
        }
    }

    func run(_ x: [Float], outer: Int, n: Int, inner: Int, _ variant: SoftmaxKernel.Variant, inPlace: Bool) -> [Float] {
        var y = inPlace ? x : [Float](repeating: 12345, count: x.count)
        if inPlace {
            y.withUnsafeMutableBufferPointer { SoftmaxKernel.run($0.baseAddress!, $0.baseAddress!, outer: outer, n: n, inner: inner, variant: variant) }
        } else {
            x.withUnsafeBufferPointer { s in
                y.withUnsafeMutableBufferPointer { SoftmaxKernel.run(s.baseAddress!, $0.baseAddress!, outer: outer, n: n, inner: inner, variant: variant) }
            }
        }
        return y
    }
}
