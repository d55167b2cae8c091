import OctetTestSupport
import XCTest

/// `ConvLowering`: the one derivation of a convolution (and of a dense layer as a 1×1
/// convolution) that the FP32 compiler, the INT8 compiler and the sensitivity analysis share.
final class ConvLoweringTests: XCTestCase {
    func testConvGeometryFromTheNode() throws {
        let window = Window2D(kernel: [3, 5], strides: [2, 1], dilations: [1, 2], pads: [1, 4, 1, 4])
        let node = Node(name: "c", op: .conv(window, group: 2), inputs: ["x", "w"], outputs: ["y"])
        let l = try ConvLowering(node, input: [1, 6, 9, 11], output: [1, 8, 5, 11], weightShape: [8, 3, 3, 5])
        let g = l.geometry
        XCTAssertEqual([g.inHeight, g.inWidth, g.inPixelStride, g.outHeight, g.outWidth, g.outPixelStride], [9, 11, 6, 5, 11, 8])
        XCTAssertEqual([g.kernel.h, g.kernel.w, g.stride.h, g.stride.w, g.dilation.h, g.dilation.w, g.padTop, g.padLeft], [3, 5, 2, 1, 1, 2, 1, 4])
        XCTAssertEqual([g.groups, g.inChannelsPerGroup, g.outChannelsPerGroup], [2, 3, 4])
        XCTAssertEqual(g.macs, 5 * 11 * 8 * 3 * 15)
        // A convolution's weights are OIHW already; OHWI moves the input channel last.
        let w = (0..<(8 * 3 * 3 * 5)).map { Float($0) }
        XCTAssertEqual(l.oihw(w), w)
        let ohwi = l.ohwi(w)
        for o in 0..<8 { for c in 0..<3 { for y in 0..<3 { for x in 0..<5 {
            XCTAssertEqual(ohwi[((o * 3 + y) * 5 + x) * 3 + c], w[((o * 3 + c) * 3 + y) * 5 + x])
        } } } }
        XCTAssertEqual(l.bias([1, 2, 3, 4, 5, 6, 7, 8], shape: [8]), [1, 2, 3, 4, 5, 6, 7, 8])
    }

    func testGemmIsAOneByOneConvolutionOverTheRows() throws {
        // A[5, 3] · B, B stored [3, 4] (transB = 0) or [4, 3] (transB = 1), alpha 2, beta 0.5.
        let b = (0..<12).map { Float($0) }
        for transB in [false, true] {
            let node = Node(name: "g", op: .gemm(GemmAttributes(alpha: 2, beta: 0.5, transB: transB)), inputs: ["a", "b", "c"], outputs: ["y"])
            let l = try ConvLowering(node, input: [5, 3], output: [5, 4], weightShape: transB ? [4, 3] : [3, 4])
            XCTAssertEqual(l.geometry, ConvLowering.rows(5, inner: 3, outer: 4))
            XCTAssertEqual([l.geometry.inWidth, l.geometry.inPixelStride, l.geometry.outChannels], [5, 3, 4])
            let w = l.realWeights(b)
            for o in 0..<4 { for i in 0..<3 {
                XCTAssertEqual(w[o * 3 + i], 2 * (transB ? b[o * 3 + i] : b[i * 4 + o]), "transB \(transB) o \(o) i \(i)")
            } }
            XCTAssertEqual(l.ohwi(b), l.oihw(b))
            XCTAssertEqual(l.bias([4], shape: []), [2, 2, 2, 2])
            XCTAssertEqual(l.bias([2, 4, 6, 8], shape: [1, 4]), [1, 2, 3, 4])
            XCTAssertNil(l.bias([1, 2, 3, 4, 5], shape: [5]))
            XCTAssertNil(l.bias([1, 2, 3, 4], shape: [4, 1]), "a column C is not a bias")
        }
        // MatMul over rank-3 A: every row of every leading index.
        let mm = Node(name: "m", op: .matMul, inputs: ["a", "b"], outputs: ["y"])
        let l = try ConvLowering(mm, input: [1, 7, 3], output: [1, 7, 4], weightShape: [3, 4])
        XCTAssertEqual(l.geometry.inWidth, 7)
        XCTAssertEqual(l.alpha, 1)
    }

    func testShapesThatAreNotAConvolutionAreErrorsNamingTheNode() {
        let gemm = Node(name: "dense", op: .gemm(GemmAttributes()), inputs: ["a", "b"], outputs: ["y"])
        XCTAssertThrowsError(try ConvLowering(gemm, input: [2, 5], output: [2, 4], weightShape: [3, 4])) {
            XCTAssertTrue("\($0)".contains("dense") && "\($0)".contains("inner sizes differ"), "\($0)")
        }
        XCTAssertThrowsError(try ConvLowering(gemm, input: [2, 3], output: [2, 4], weightShape: [3, 4, 1])) {
            XCTAssertTrue("\($0)".contains("rank-3"), "\($0)")
        }
        let transA = Node(name: "t", op: .gemm(GemmAttributes(transA: true)), inputs: ["a", "b"], outputs: ["y"])
        XCTAssertThrowsError(try ConvLowering(transA, input: [3, 2], output: [2, 4], weightShape: [3, 4]))
        let conv = Node(name: "conv1d", op: .conv(Window2D(kernel: [3]), group: 1), inputs: ["x", "w"], outputs: ["y"])
        XCTAssertThrowsError(try ConvLowering(conv, input: [1, 2, 9], output: [1, 4, 7], weightShape: [4, 2, 3])) {
            XCTAssertTrue("\($0)".contains("conv1d"), "\($0)")
        }
        let relu = Node(name: "r", op: .relu, inputs: ["x"], outputs: ["y"])
        XCTAssertThrowsError(try ConvLowering(relu, input: [1, 2], output: [1, 2], weightShape: [2, 2]))
    }
}
