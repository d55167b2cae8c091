import Foundation
import OctetCore
import OctetIR
import XCTest

/// The Sigmoid Octet's tables and constant folder evaluate: ONNX Runtime's rational logistic.
final class RationalLogisticTests: XCTestCase {
    /// Within 2e-7 of σ (three ulps of 0.5: the approximation adds 0.5 last), monotone on
    /// [−10, 10] (beyond, that rounding dominates the tail), σ(0) = 0.5, and NaN stays NaN.
    func testItIsTheLogisticToWithinAFewUlps() {
        var previous: Float = RationalLogistic.evaluate(-10)
        for i in -4000...4000 {
            let x = Float(i) / 200
            let y = RationalLogistic.evaluate(x)
            let exact = Float(1 / (1 + Foundation.exp(-Double(x))))
            XCTAssertLessThanOrEqual(abs(y - exact), 2e-7, "x=\(x)")
            if abs(x) <= 10 { XCTAssertGreaterThanOrEqual(y, previous, "not monotone at x=\(x)") }
            previous = y
        }
        XCTAssertEqual(RationalLogistic.evaluate(0), 0.5)
        XCTAssertTrue(RationalLogistic.evaluate(.nan).isNaN)
        XCTAssertEqual(RationalLogistic.evaluate(.infinity), RationalLogistic.evaluate(18))
    }

    /// A real case: the squeeze-excitation gate of features.4.1 in ONNX Runtime's uint8 QDQ file
    /// of tv_efficientnet_b0_bncal. Input code 112 (scale 0.021518877, zero point 137) is
    /// x = −0.5379719; at output scale 0.0036321136 the correctly rounded σ(x) is 101.49999
    /// scales (code 101) and ONNX Runtime's σ(x) is 101.5 scales, which it writes as 102.
    func testTheQuantizedSigmoidGivesONNXRuntimesCode() {
        let x = Float(112 - 137) * Float(0.021518877)
        let y = QuantParams(scale: 0.0036321136, zeroPoint: 0, dtype: .uint8)
        XCTAssertEqual(y.quantize(UnaryFunction.sigmoid.apply(x)), 102)
        XCTAssertEqual(y.quantize(Float(1 / (1 + Foundation.exp(-Double(x))))), 101, "the correctly rounded σ rounds the other way")
    }
}
