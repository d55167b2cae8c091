import OctetTestSupport
import XCTest

/// `SymbolicShapes`: each dimension as the exact affine function of the one input symbol it
/// follows, `?` for one that follows a product of two, numbers for the rest.
final class SymbolicShapesTests: XCTestCase {
    func testDimensionsFollowTheirSymbols() throws {
        var b = GraphBuilder(name: "g")
        let x = b.input("x", dims: [nil, 3, nil, nil])
        var r = TestRandom(seed: 2)
        // Stride 2, pad 1, 3×3: H/2. Then 3×3 valid: H/2-2. Resize ×2 (nearest): 2·(H/2-2) = H-4.
        let c1 = b.add(.conv(Window2D(kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]), group: 1), [x, b.constant("w1", r.tensor([8, 3, 3, 3]))])
        let c2 = b.add(.conv(Window2D(kernel: [3, 3]), group: 1), [c1, b.constant("w2", r.tensor([4, 8, 3, 3]))])
        let scales = b.constant("scales", try Tensor(shape: [4], floats: [1, 1, 2, 2]))
        let up = b.add(.resize(ResizeAttributes(mode: .nearest, coordinateTransform: .asymmetric, nearestMode: .floor)), [c2, "", scales])
        let flat = b.add(.flatten(axis: 1), [c2])
        b.output(up, dims: [nil, 4, nil, nil])
        b.output(flat, dims: [nil, nil])
        let s = try XCTUnwrap(SymbolicShapes(b.graph))
        XCTAssertEqual(SymbolicShapes.text(s.shapes[c1] ?? []), "[N, 8, H/2, W/2]")
        XCTAssertEqual(SymbolicShapes.text(s.shapes[c2] ?? []), "[N, 4, H/2-2, W/2-2]")
        XCTAssertEqual(SymbolicShapes.text(s.shapes[up] ?? []), "[N, 4, H-4, W-4]")
        // 4·(H/2-2)·(W/2-2) follows two symbols: no affine function of one.
        XCTAssertEqual(SymbolicShapes.text(s.shapes[flat] ?? []), "[N, ?]")
        // A fixed input shape leaves no symbols.
        let fixed = try XCTUnwrap(SymbolicShapes(b.graph, fixed: ["x": [2, 3, 64, 32]]))
        XCTAssertEqual(fixed.shapes[up], [.known(2), .known(4), .known(60), .known(28)])
    }
}
