import OctetKernels
import XCTest

/// The FP32 FMA peak loops run where the CPU has them (a positive, finite rate) and refuse the
/// others (nil), never executing an instruction the CPU lacks; every SIMD path names the loop of
/// its FP32 kernels' width. No timing is asserted.
final class FP32PeakLoopTests: XCTestCase {
    func testLoopsRunWhereSupported() {
        for loop in FP32PeakLoop.allCases {
            let gflops = loop.measure(seconds: 0.002, rounds: 1)
            if loop.isSupported {
                XCTAssertTrue(gflops.map { $0 > 0 && $0.isFinite } ?? false, "\(loop): \(String(describing: gflops))")
            } else {
                XCTAssertNil(gflops, "\(loop)")
            }
        }
        XCTAssertEqual(FP32PeakLoop.bounding(.avx512vnni), .fma512)
        XCTAssertEqual(FP32PeakLoop.bounding(.avxvnni), .fma256)
        XCTAssertNil(FP32PeakLoop.bounding(.scalar))
    }
}
