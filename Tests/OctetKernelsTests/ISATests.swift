import OctetTestSupport
import XCTest

final class ISATests: XCTestCase {
    func testScalarIsAlwaysSupportedAndBestIsFirstSupported() {
        XCTAssertTrue(ISA.supported.contains(.scalar))
        XCTAssertEqual(ISA.best, ISA.supported.first)
    }

    func testForcingByEnvironmentAndName() throws {
        XCTAssertEqual(try ISA.fromEnvironment(["OCTET_ISA": "scalar"]), .scalar)
        XCTAssertEqual(try ISA.fromEnvironment([:]), ISA.best)
        XCTAssertThrowsError(try ISA.named("sse9")) { error in
            XCTAssertTrue("\(error)".contains("unknown ISA path 'sse9'"))
        }
    }
}
