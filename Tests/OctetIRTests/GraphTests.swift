import OctetTestSupport
import XCTest

final class GraphTests: XCTestCase {
    func testVerifyCatchesUndefinedAndDuplicateValues() {
        var g = Graph(inputs: [ValueInfo(name: "x", dims: [1])], outputs: [ValueInfo(name: "y", dims: [1])],
                      nodes: [Node(name: "r", op: .relu, inputs: ["nope"], outputs: ["y"])])
        XCTAssertThrowsError(try g.verify()) { XCTAssertEqual("\($0)", "node 'r' reads 'nope', which nothing defines") }
        g.nodes = [Node(name: "r", op: .relu, inputs: ["x"], outputs: ["y"]), Node(name: "s", op: .relu, inputs: ["x"], outputs: ["y"])]
        XCTAssertThrowsError(try g.verify()) { XCTAssertEqual("\($0)", "value 'y' is defined more than once") }
        g.nodes = [Node(name: "a", op: .add, inputs: ["x"], outputs: ["y"])]
        XCTAssertThrowsError(try g.verify()) { XCTAssertTrue("\($0)".contains("has 1 inputs")) }
    }

    func testShapeInferenceOfResNet18() throws {
        let g = ResNet.build(.resnet18)
        let shapes = try g.inferShapes(inputShapes: ["input": [2, 3, 224, 224]])
        XCTAssertEqual(shapes["logits"], [2, 1000])
        XCTAssertEqual(shapes["maxpool_out"], [2, 64, 56, 56])
        XCTAssertThrowsError(try g.inferShapes(inputShapes: ["input": [2, 3, 225, 224]])) {
            XCTAssertEqual("\($0)", "input 'input' must have shape [N,3,224,224], got [2,3,225,224]")
        }
    }

    func testSamePaddingFollowsTheSpec() {
        // in 7, kernel 3, stride 2: out 4, total pad 2 -> 1/1; in 8: out 4, total pad 1 -> upper puts it at the end.
        let w = Window2D(kernel: [3, 3], strides: [2, 2], autoPad: .sameUpper)
        XCTAssertEqual(w.resolvedPads(input: [7, 8]), [1, 0, 1, 1])
        var lower = w; lower.autoPad = .sameLower
        XCTAssertEqual(lower.resolvedPads(input: [7, 8]), [1, 1, 1, 0])
        XCTAssertEqual(w.outputSize(input: [7, 8]), [4, 4])
    }

    func testCeilModeDropsWindowsStartingInPadding() {
        let w = Window2D(kernel: [2, 2], strides: [2, 2])
        XCTAssertEqual(w.outputSize(input: [5, 5], ceilMode: true), [3, 3])
        XCTAssertEqual(w.outputSize(input: [5, 5], ceilMode: false), [2, 2])
    }
}
